"""What the pytest plugin costs a downstream suite, and what a login costs through each door.

    python bench/fixture_overhead.py [--tests 1000] [--runs 5] [--calls 2000]

1. Fixture overhead: a generated suite of --tests tests is run with pytest in a fresh
   process --runs times with the `mockauth` fixture, and as many times without it (the
   same tests, the fixture argument removed). The difference of the best runs, divided
   by the number of tests, is the per-test cost of the fixture. Both wall time and CPU
   time (user + sys of the pytest process) are given: CPU time stays honest on a busy
   machine. A small plugin also times each test's setup and teardown inside the runs,
   which leaves pytest's start-up and collection out; `MockAuth.reset()` alone is timed
   in-process too.
2. Door latency: --calls logins (POST /auth/login, form body, a fixture user) through
   each door, best of 5 rounds, per call: the Werkzeug test client, `responses` (a
   `requests.Session`, and bare `requests.post` as most tests write it), an
   `httpx.Client` on the in-process transport, and a `requests.Session` to the live
   server on 127.0.0.1.

Prints a Markdown report. Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

FORM = {"username": "user@example.com", "password": "secretpassword"}
# Plugins this environment installs that the measured suites do not use: leaving them out
# keeps start-up noise (a second of hypothesis import) out of the difference.
QUIET = ["-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:xdist"]


def generate(folder: Path, tests: int, *, fixture: bool) -> None:
    """`tests` tests, 100 a file. Both suites start with one test that builds the session's
    mock, so the difference between them is the per-test cost alone."""
    per_file = 100
    argument = "mockauth" if fixture else ""
    (folder / "test_aaa_first.py").write_text("def test_build(mockauth):\n    assert mockauth.users\n")
    for start in range(0, tests, per_file):
        lines = [
            f"def test_{n}({argument}):\n    assert {n} >= 0\n"
            for n in range(start, min(start + per_file, tests))
        ]
        (folder / f"test_gen_{start // per_file:03}.py").write_text("\n\n".join(lines))


# A plugin for the measured runs: the median CPU time of a test's setup and teardown (the
# median, so the session's own teardown on the last test stays out), the first test
# (which builds the session's mock) left out.
TIMING_PLUGIN = """
import statistics, time, pytest
spent = {"setup": [], "teardown": []}

def _timed(phase):
    @pytest.hookimpl(wrapper=True)
    def hook(item, *args):
        started = time.process_time()
        result = yield
        if "test_build" not in item.nodeid:
            spent[phase].append(time.process_time() - started)
        return result
    return hook

pytest_runtest_setup = _timed("setup")
pytest_runtest_teardown = _timed("teardown")

def pytest_unconfigure(config):
    setup, teardown = (statistics.median(spent[p]) * 1e6 for p in ("setup", "teardown"))
    print(f"\\nphases: setup {setup:.1f} teardown {teardown:.1f}")
"""


def run_suite(folder: Path, tests: int) -> tuple[float, float, float, float]:
    """Wall and CPU seconds of one pytest run over `folder`, and the setup and teardown
    µs of CPU a test, timed inside it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *QUIET, "-p", "bench_timing", str(folder)],
        capture_output=True, text=True, check=False, cwd=folder,
        env={**os.environ, "PYTHONPATH": str(folder.parent)},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0 or f"{tests + 1} passed" not in result.stdout:
        raise SystemExit(f"the generated suite failed:\n{result.stdout}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    phases = re.search(r"phases: setup ([\d.]+) teardown ([\d.]+)", result.stdout)
    if phases is None:
        raise SystemExit(f"no timing in the pytest output:\n{result.stdout}")
    return wall, cpu, float(phases.group(1)), float(phases.group(2))


def fixture_overhead(tests: int, runs: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        with_fixture, without = Path(tmp, "with"), Path(tmp, "without")
        Path(tmp, "bench_timing.py").write_text(TIMING_PLUGIN)
        for folder, fixture in ((with_fixture, True), (without, False)):
            folder.mkdir()
            generate(folder, tests, fixture=fixture)
        timings: dict[Path, list[tuple[float, float, float, float]]] = {with_fixture: [], without: []}
        for _ in range(runs):  # interleaved, so a busy spell hurts both alike
            for folder in (without, with_fixture):
                timings[folder].append(run_suite(folder, tests))
    best = {folder: tuple(min(run[i] for run in t) for i in range(4)) for folder, t in timings.items()}
    wall = (best[with_fixture][0] - best[without][0]) / tests * 1000
    cpu = (best[with_fixture][1] - best[without][1]) / tests * 1000
    setup = best[with_fixture][2] - best[without][2]
    teardown = best[with_fixture][3] - best[without][3]

    from mockauth import MockAuth

    started = time.process_time()
    auth = MockAuth.from_fixtures()
    build = time.process_time() - started
    reset = min(timeit.repeat(auth.reset, number=2000, repeat=5, timer=time.process_time)) / 2000
    return [
        f"| suite of {tests} tests, best of {runs} runs | wall s | CPU s |",
        "|---|---:|---:|",
        f"| without the fixture | {best[without][0]:.2f} | {best[without][1]:.2f} |",
        f"| with `mockauth` | {best[with_fixture][0]:.2f} | {best[with_fixture][1]:.2f} |",
        f"| **per test** | **{wall:.3f} ms** | **{cpu:.3f} ms** |",
        "",
        f"Timed inside the runs (CPU, median test, best of the runs): setup "
        f"{best[with_fixture][2]:.0f} µs and teardown {best[with_fixture][3]:.0f} µs a test with "
        f"`mockauth`, {best[without][2]:.0f} µs and {best[without][3]:.0f} µs without; "
        f"**{(setup + teardown) / 1000:.3f} ms** of fixture cost a test.",
        "",
        f"Once a session (in both suites): building the mock, {build * 1000:.0f} ms CPU. "
        f"`MockAuth.reset()` alone: {reset * 1e6:.1f} µs CPU.",
    ]


def per_call(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """Best-of-5 seconds per call, wall and CPU (CPU counts the server thread too)."""
    fn()
    wall = min(timeit.repeat(fn, number=calls, repeat=5)) / calls
    cpu = min(timeit.repeat(fn, number=calls, repeat=5, timer=time.process_time)) / calls
    return wall, cpu


def door_latency(calls: int) -> list[str]:
    import httpx
    import requests

    from mockauth import MockAuth

    auth = MockAuth.from_fixtures()
    base = "https://auth.example.test"
    rows: list[tuple[str, tuple[float, float], str]] = []

    def ok(response: object) -> None:
        status = getattr(response, "status_code", None)
        if status != 200:
            raise SystemExit(f"login answered {status}")

    client = auth.test_client()
    rows.append(("Werkzeug test client (`auth.test_client()`)",
                 per_call(lambda: ok(client.post("/auth/login", data=FORM)), calls), "< 150 µs"))
    with auth.intercept(base):
        session = requests.Session()
        rows.append(("`responses`, `requests.Session().post`",
                     per_call(lambda: ok(session.post(base + "/auth/login", data=FORM)), calls), "< 400 µs"))
        rows.append(("`responses`, bare `requests.post`",
                     per_call(lambda: ok(requests.post(base + "/auth/login", data=FORM)), calls), "< 400 µs"))
        session.close()
    with httpx.Client(transport=auth.httpx_transport(), base_url=base) as http:
        rows.append(("`httpx.Client` on `auth.httpx_transport()`",
                     per_call(lambda: ok(http.post("/auth/login", data=FORM)), calls), "—"))
    with auth.serve() as server, requests.Session() as live:
        url = server.url + "/auth/login"
        rows.append(("live server, `requests.Session` (keep-alive)",
                     per_call(lambda: ok(live.post(url, data=FORM)), calls // 4), "—"))
    auth.reset()
    lines = ["| door | wall µs/login | CPU µs/login | target |", "|---|---:|---:|---|"]
    lines += [f"| {name} | {w * 1e6:.0f} | {c * 1e6:.0f} | {target} |" for name, (w, c), target in rows]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    import pytest

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {platform.python_version()}, pytest {pytest.__version__}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}, load average {load:.1f} at start\n")
    print("\n".join(fixture_overhead(args.tests, args.runs)))
    print()
    print("\n".join(door_latency(args.calls)))


if __name__ == "__main__":
    main()
