"""Every speed target in one run: mockauth, the trivial baselines and the peers, one server
at a time, and what the pytest plugin costs a run that does not use it.

    python bench/run.py                 # everything (about 12 minutes), writes bench/RESULTS.md
    python bench/run.py --quick         # 3 s loads, 5 starts, 1 round: about 2 minutes, nothing written

What it installs, into --workdir (default /tmp/mockauth-bench): a venv with mockauth (this
checkout, editable), gunicorn and granian; oauth2-mock-server, @stoplight/prism-cli and
wiremock (its npm package bundles the standalone jar) from npm; wrk from Debian when it
is missing. Everything listens on 127.0.0.1 and every load is bounded by --duration.

For each server: logins/s and p50/p99 latency from ``wrk -t2 -c16 -d10s`` (POST login,
bench/login.lua) after a short warm-up; start-up to first 200 on that login (median of
--starts starts); RSS of the server's process tree after the load. Ratios are taken
against the trivial app on the same server, measured in the same run. The plugin's cost:
a one-test pytest run in a bare venv (pytest and mockauth, no extras), with the plugin and
with ``-p no:mockauth``, alternated, median of --plugin-runs each. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LOGIN_BODY = "username=user%40example.com&password=secretpassword"
FORM = "application/x-www-form-urlencoded"
NPM_PACKAGES = ("oauth2-mock-server@9", "@stoplight/prism-cli@5", "wiremock@3")
PY_PACKAGES = ("granian>=2", "gunicorn>=23", "py-spy", "pytest")  # pytest: fixture_overhead.py
START_TIMEOUT = 60.0
# Everything here runs as users run it, with bytecode cached: with PYTHONDONTWRITEBYTECODE
# set (as on some CI machines), every module changed since its last .pyc, and every module
# pytest rewrites (a plugin's), is compiled again at every start, which made the plugin
# look 8 % dearer and `serve` start slower than they are.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
LOAD_BEFORE = os.getloadavg()
BEGIN, END = "<!-- bench/run.py: begin -->", "<!-- bench/run.py: end -->"


@dataclass
class Target:
    name: str
    command: list[str]
    path: str = "/auth/login"
    body: str = LOGIN_BODY
    server: str = ""  # the HTTP server it runs on, for the ratio to the trivial app on it
    baseline: bool = False  # the trivial app: the others are divided by it
    note: str = ""
    warmup: float = 3.0
    cwd: Path = BENCH
    env: dict[str, str] = field(default_factory=dict)
    load: bool = True  # False: only its start-up is measured
    result: dict[str, float] = field(default_factory=dict)
    rounds: list[float] = field(default_factory=list)  # logins/s of each round


def paired_ratio(a: Target | None, b: Target | None) -> float | None:
    """Median over the rounds of a's logins/s over b's in the same round: a burst of load
    from elsewhere lands on both of a pair measured minutes apart far less often than on
    one of two best-of figures."""
    if a is None or b is None or not a.rounds or len(a.rounds) != len(b.rounds):
        return None
    return statistics.median(x / y for x, y in zip(a.rounds, b.rounds, strict=True))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login_once(port: int, target: Target, timeout: float = 2.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", target.path, target.body, {"Content-Type": FORM})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextlib.contextmanager
def running(target: Target, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [part.replace("{port}", str(port)) for part in target.command]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=target.cwd,
            env={**os.environ, **target.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group, then SIGKILL after 2 s (a server stopped
    while its workers still boot, gunicorn's and granian's, can sit out a 10 s grace)."""
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind


def wait_ready(process: subprocess.Popen[bytes], port: int, target: Target) -> float:
    """Seconds from now until the first 200 on the login."""
    started = time.perf_counter()
    deadline = started + START_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{target.name}: exited with {process.returncode} before answering")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status = login_once(port, target, timeout=5.0)
            if status == 200:
                return time.perf_counter() - started
            raise RuntimeError(f"{target.name}: the login answered {status}, not 200")
        time.sleep(0.002)
    raise RuntimeError(f"{target.name}: no 200 within {START_TIMEOUT} s")


def measure_start(target: Target, log: Path) -> tuple[float, float]:
    """Wall seconds from spawn to the first 200 on the login, and the CPU seconds the
    server's first process spent by then (user + sys, from its rusage once killed): the
    CPU figure moves far less with what else the shared machine runs."""
    port = free_port()
    spawned = time.perf_counter()
    with running(target, port, log) as process:
        wait_ready(process, port, target)
        wall = time.perf_counter() - spawned
        os.killpg(process.pid, signal.SIGKILL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        return wall, usage.ru_utime + usage.ru_stime


def tree_rss_kb(pid: int) -> int:
    """VmRSS of a process and all its descendants, in kB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def wrk(
    wrk_bin: str, port: int, target: Target, seconds: float, connections: int
) -> dict[str, float]:
    env = {**os.environ, "BENCH_BODY": target.body}
    out = subprocess.run(
        [
            wrk_bin,
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(BENCH / "login.lua"),
            f"http://127.0.0.1:{port}{target.path}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 60,
        check=True,
    ).stdout
    result = {"rps": float(_find(r"Requests/sec:\s+([\d.]+)", out))}
    for label, key in (("50%", "p50"), ("99%", "p99")):
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\b", out, re.M).groups()  # type: ignore[union-attr]
        result[key] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    result["non2xx"] = float(bad.group(1)) if bad else 0.0
    result["socket_errors"] = (
        float(sum(int(n) for n in re.findall(r"\d+", errors.group(0)))) if errors else 0.0
    )
    return result


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if not match:
        raise RuntimeError(f"wrk output without {pattern!r}:\n{text}")
    return match.group(1)


def measure_load(target: Target, wrk_bin: str, seconds: float, log: Path) -> dict[str, float]:
    port = free_port()
    with running(target, port, log) as process:
        wait_ready(process, port, target)
        if target.warmup:
            wrk(wrk_bin, port, target, target.warmup, 16)
        result = wrk(wrk_bin, port, target, seconds, 16)
        result["rss_mb"] = tree_rss_kb(process.pid) / 1024
        return result


# -- installing ------------------------------------------------------------------------


def run_quiet(command: list[str], **kwargs: object) -> None:
    print("  $", " ".join(command), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]


def install(workdir: Path) -> dict[str, str]:
    """Everything the run needs; returns the tools' paths."""
    workdir.mkdir(parents=True, exist_ok=True)
    tools: dict[str, str] = {}
    wrk_bin = shutil.which("wrk")
    if wrk_bin is None:
        if os.geteuid() != 0:
            raise SystemExit("wrk is missing: apt-get install wrk (as root), then run again")
        run_quiet(["apt-get", "update", "-qq"])
        run_quiet(["apt-get", "install", "-y", "-qq", "wrk"])
        wrk_bin = shutil.which("wrk")
    assert wrk_bin is not None
    tools["wrk"] = wrk_bin
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        run_quiet([sys.executable, "-m", "venv", str(venv)])
    run_quiet([str(python), "-m", "pip", "install", "-q", "-e", f"{REPO}[server,httpx]", *PY_PACKAGES])
    tools["python"] = str(python)
    npm_dir = workdir / "npm"
    if shutil.which("npm") and shutil.which("node"):
        if not (npm_dir / "node_modules" / "wiremock").exists():
            npm_dir.mkdir(exist_ok=True)
            run_quiet(
                [
                    "npm",
                    "install",
                    "--prefix",
                    str(npm_dir),
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                    *NPM_PACKAGES,
                ]
            )
        tools["npm_bin"] = str(npm_dir / "node_modules" / ".bin")
        jars = sorted((npm_dir / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))
        if jars and shutil.which("java"):
            tools["wiremock_jar"] = str(jars[-1])
    return tools


def versions(tools: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "('mockauth', 'werkzeug', 'pyjwt', 'gunicorn', 'granian')}))"
    )
    found.update(
        json.loads(
            subprocess.run(
                [tools["python"], "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
    )
    found["wrk"] = (
        subprocess.run([tools["wrk"], "-v"], capture_output=True, text=True)
        .stdout.split(" [")[0]
        .strip()
    )
    if "npm_bin" in tools:
        modules = Path(tools["npm_bin"]).parent
        for package in ("oauth2-mock-server", "@stoplight/prism-cli", "wiremock"):
            found[package] = json.loads((modules / package / "package.json").read_text())["version"]
        found["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True
        ).stdout.strip()
    if "wiremock_jar" in tools:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
        found["java"] = java.splitlines()[0] if java else "?"
    return found


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {memory}"


# -- the servers -----------------------------------------------------------------------


def targets(tools: dict[str, str]) -> list[Target]:
    bin_dir = Path(tools["python"]).parent
    py, gunicorn, granian = tools["python"], str(bin_dir / "gunicorn"), str(bin_dir / "granian")
    mockauth = str(bin_dir / "mockauth")

    def on_gunicorn(module: str, workers: int, threads: int = 4) -> list[str]:
        return [
            gunicorn,
            "-k",
            "gthread",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-b",
            "127.0.0.1:{port}",
            "--log-level",
            "warning",
            module,
        ]

    def on_granian(module: str, workers: int, interface: str = "wsgi") -> list[str]:
        return [
            granian,
            "--interface",
            interface,
            "--workers",
            str(workers),
            "--no-ws",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            module,
        ]

    found = [
        Target(
            "trivial app, Werkzeug threaded",
            [py, "trivial_app.py", "{port}"],
            server="werkzeug",
            baseline=True,
        ),
        Target(
            "mockauth serve",
            [mockauth, "serve", "--port", "{port}"],
            server="werkzeug",
            note="default: Werkzeug threaded, one process, access log on",
        ),
        Target(
            "trivial app, gunicorn 1 x 4 threads",
            on_gunicorn("trivial_app:app", 1),
            server="gunicorn1",
            baseline=True,
        ),
        Target(
            "mockauth serve --workers 1",
            [mockauth, "serve", "--port", "{port}", "--workers", "1"],
            server="gunicorn1",
            note="gunicorn gthread, 1 worker x 4 threads",
        ),
        Target(
            "trivial app, gunicorn 2 x 4 threads",
            on_gunicorn("trivial_app:app", 2),
            server="gunicorn2",
            baseline=True,
        ),
        Target(
            "mockauth serve --workers 2",
            [mockauth, "serve", "--port", "{port}", "--workers", "2", "--accept-per-worker-state"],
            server="gunicorn2",
            note="gunicorn gthread, 2 workers x 4 threads",
        ),
        Target(
            "mockauth serve, YAML cache off",
            [mockauth, "serve", "--port", "{port}"],
            server="werkzeug",
            env={"MOCKAUTH_CACHE_DIR": "off"},
            load=False,
            note="start-up only: the spec and fixtures parsed by PyYAML at every start",
        ),
        Target(
            "trivial app, granian 2 workers",
            on_granian("trivial_app:app", 2),
            server="granian2",
            baseline=True,
        ),
        Target(
            "mockauth app, granian 2 workers",
            on_granian("mockauth_app:app", 2),
            server="granian2",
            note="not offered: no way to disconnect under granian WSGI",
        ),
        Target(
            "trivial app, granian RSGI 2 workers, inline adapter",
            on_granian("rsgi_adapter:app", 2, "rsgi"),
            server="rsgi2",
            baseline=True,
            env={"BENCH_APP": "trivial", "BENCH_ADAPT": "inline"},
        ),
        Target(
            "mockauth app, granian RSGI 2 workers, inline adapter",
            on_granian("rsgi_adapter:app", 2, "rsgi"),
            server="rsgi2",
            env={"BENCH_APP": "mockauth", "BENCH_ADAPT": "inline"},
            note="could drop a connection (/proc/self/fd); `slow` would stall the worker",
        ),
        Target(
            "mockauth app, granian RSGI 2 workers, thread hop",
            on_granian("rsgi_adapter:app", 2, "rsgi"),
            server="rsgi2",
            env={"BENCH_APP": "mockauth", "BENCH_ADAPT": "thread"},
            note="could drop a connection; `slow` in its thread, as gunicorn does",
        ),
    ]
    if "npm_bin" in tools:
        npm_bin = Path(tools["npm_bin"])
        found += [
            Target(
                "oauth2-mock-server (Node), password grant",
                ["node", str(npm_bin / "oauth2-mock-server"), "-a", "127.0.0.1", "-p", "{port}"],
                path="/token",
                body="grant_type=password&" + LOGIN_BODY,
                server="peer",
                note="RS256 token; accepts any password",
            ),
            Target(
                "Prism (Node), canned example",
                [
                    "node",
                    str(npm_bin / "prism"),
                    "mock",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    "{port}",
                    str(BENCH / "prism.yaml"),
                ],
                server="peer",
                note="validates the form; static token, no signing",
            ),
        ]
    if "wiremock_jar" in tools:
        jar = tools["wiremock_jar"]
        base = [
            "java",
            "-jar",
            jar,
            "--port",
            "{port}",
            "--bind-address",
            "127.0.0.1",
            "--root-dir",
            str(BENCH / "wiremock"),
            "--disable-banner",
        ]
        found += [
            Target(
                "WireMock (JVM), static stub",
                base,
                server="peer",
                warmup=15.0,
                note="journal on; after a 15 s JIT warm-up",
            ),
            Target(
                "WireMock (JVM), static stub, journal off",
                [*base, "--no-request-journal"],
                server="peer",
                warmup=15.0,
                note="after a 15 s JIT warm-up",
            ),
        ]
    return found


# -- in-process ------------------------------------------------------------------------


def in_process(python: str) -> dict[str, float]:
    """CPU microseconds per login through Werkzeug's test client: mockauth and the trivial app."""
    code = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from werkzeug.test import Client
import trivial_app
from mockauth import MockAuth
data = {"username": "user@example.com", "password": "secretpassword"}
clients = {"mockauth": MockAuth.from_fixtures(journal_size=1000).test_client(),
           "trivial": Client(trivial_app.app)}
best = {}
for _ in range(5):
    for name, client in clients.items():
        started = time.thread_time()
        for _ in range(1000):
            assert client.post("/auth/login", data=data).status_code == 200
        spent = (time.thread_time() - started) * 1000
        best[name] = min(best.get(name, 1e9), spent)
print(json.dumps(best))
"""
    out = subprocess.run(
        [python, "-c", code, str(BENCH)], capture_output=True, text=True, check=True
    )
    return {k: float(v) for k, v in json.loads(out.stdout).items()}


# -- the pytest plugin's cost -----------------------------------------------------------


def plugin_cost(workdir: Path, runs: int) -> dict[str, float]:
    """Wall and CPU seconds (medians) of a one-test pytest run in a bare venv, with the
    plugin autoloaded and with ``-p no:mockauth``, the two alternated run by run."""
    venv = workdir / "bare"
    python = venv / "bin" / "python"
    if not python.exists():
        run_quiet([sys.executable, "-m", "venv", str(venv)])
    run_quiet([str(python), "-m", "pip", "install", "-q", "-e", str(REPO), "pytest"])
    suite = workdir / "plugin-suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    base = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plain.py"]
    runs_of: dict[str, list[tuple[float, float]]] = {"plugin": [], "no_plugin": []}
    for _ in range(runs):
        for name, extra in (("plugin", []), ("no_plugin", ["-p", "no:mockauth"])):
            started = time.perf_counter()
            process = subprocess.Popen([*base, *extra], cwd=suite, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise RuntimeError(f"pytest {' '.join(extra)} exited with {process.returncode}")
            wall = time.perf_counter() - started
            runs_of[name].append((wall, usage.ru_utime + usage.ru_stime))
    result = {}
    for name, pairs in runs_of.items():
        result[f"{name}_wall"] = statistics.median(w for w, _ in pairs)
        result[f"{name}_cpu"] = statistics.median(c for _, c in pairs)
    result["runs"] = runs
    return result


# -- the report ------------------------------------------------------------------------


def report(
    found: list[Target],
    inproc: dict[str, float],
    plugin: dict[str, float],
    info: dict[str, str],
    command: str,
    seconds: float,
    starts: int,
    rounds: int,
) -> str:
    base = {t.server: t for t in found if t.baseline}
    by_name = {t.name: t for t in found}
    lines = [
        BEGIN,
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}; "
        f"load average {LOAD_BEFORE[0]:.1f} before the run, {os.getloadavg()[0]:.1f} after "
        "(the 1-minute figure: more than 2 means other work shared the 2 cores).",
        "",
        f"Command: `{command}`",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "",
        f"Load: `wrk -t2 -c16 -d{round(seconds)}s --latency -s bench/login.lua` on POST login, "
        f"best of {rounds} round(s), after a warm-up; start: median of {starts} starts, spawn to "
        "first 200 on the login, starts cycled over all servers (CPU: the server's first "
        "process, user + sys, by then); RSS: the server's whole process "
        "tree after the load. logins/s: the best round. Ratio: the median over the rounds of "
        "logins/s over the trivial app's on the same server in the same round.",
        "",
        "| server | logins/s | p50 ms | p99 ms | ratio to trivial, same server "
        "| start ms, wall / CPU | RSS MB | errors | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in found:
        r = t.result
        if not r:
            lines.append(f"| {t.name} | — | — | — | — | — | — | — | failed: {t.note} |")
            continue
        ratio = "—"
        start = f"{r['start_ms']:.0f} / {r['start_cpu_ms']:.0f}" if "start_ms" in r else "—"
        if "rps" not in r:
            lines.append(f"| {t.name} | — | — | — | — | {start} | — | — | {t.note} |")
            continue
        paired = paired_ratio(t, base.get(t.server)) if not t.baseline else None
        if paired is not None:
            ratio = f"{paired:.2f}x"
        errors = int(r["non2xx"] + r["socket_errors"])
        lines.append(
            f"| {t.name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} | {start} "
            f"| {r['rss_mb']:.0f} | {errors} | {t.note} |"
        )
    lines += [
        "",
        "In-process, Werkzeug test client, CPU time per login (best of 5 x 1000): "
        f"mockauth {inproc['mockauth']:.0f} us, trivial WSGI app {inproc['trivial']:.0f} us, "
        f"ratio {inproc['mockauth'] / inproc['trivial']:.2f}x.",
        "",
        f"pytest plugin, a one-test run in a bare venv (pytest and mockauth only), median of "
        f"{plugin['runs']:.0f} runs each, alternated: with the plugin {plugin['plugin_wall'] * 1000:.0f} ms "
        f"wall, {plugin['plugin_cpu'] * 1000:.0f} ms CPU; with `-p no:mockauth` "
        f"{plugin['no_plugin_wall'] * 1000:.0f} ms wall, {plugin['no_plugin_cpu'] * 1000:.0f} ms CPU.",
        "",
    ]
    lines += targets_table(by_name, inproc, plugin)
    lines.append(END)
    return "\n".join(lines) + "\n"


def targets_table(
    by_name: dict[str, Target], inproc: dict[str, float], plugin: dict[str, float]
) -> list[str]:
    r = {name: t.result for name, t in by_name.items()}

    def rps(a: str, b: str) -> float | None:
        return paired_ratio(by_name.get(a), by_name.get(b))

    def start(name: str, figure: str = "start_ms") -> float | None:
        return r.get(name, {}).get(figure)

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    serve, one, two = "mockauth serve", "mockauth serve --workers 1", "mockauth serve --workers 2"
    trivial = "trivial app, Werkzeug threaded"
    o2 = "oauth2-mock-server (Node), password grant"
    # (target, measured, bound, ">=" or "<="): the numbered ones are the current targets.
    rows: list[tuple[str, float | None, float, str]] = [
        (
            "1. pytest run, plugin / `-p no:mockauth`, wall",
            plugin["plugin_wall"] / plugin["no_plugin_wall"],
            1.05,
            "<=",
        ),
        (
            "1. pytest run, plugin / `-p no:mockauth`, CPU",
            plugin["plugin_cpu"] / plugin["no_plugin_cpu"],
            1.05,
            "<=",
        ),
        ("2. `serve` start / trivial app start", ratio(start(serve), start(trivial)), 1.3, "<="),
        (
            "2. `serve` start / trivial app start, CPU",
            ratio(start(serve, "start_cpu_ms"), start(trivial, "start_cpu_ms")),
            1.3,
            "<=",
        ),
        (
            "2. (`serve`, YAML cache off) start / trivial app start, CPU",
            ratio(
                start("mockauth serve, YAML cache off", "start_cpu_ms"),
                start(trivial, "start_cpu_ms"),
            ),
            1.3,
            "<=",
        ),
        ("3. `serve` / trivial app, Werkzeug", rps(serve, trivial), 0.9, ">="),
        (
            "4. `--workers 2` / trivial app, gunicorn 2 x 4",
            rps(two, "trivial app, gunicorn 2 x 4 threads"),
            0.9,
            ">=",
        ),
        (
            "4. `--workers 2` / WireMock (journal on)",
            rps(two, "WireMock (JVM), static stub"),
            1.0,
            ">=",
        ),
        (
            "`--workers 1` / trivial app, gunicorn 1 x 4",
            rps(one, "trivial app, gunicorn 1 x 4 threads"),
            0.9,
            ">=",
        ),
        ("`serve` / oauth2-mock-server", rps(serve, o2), 1.0, ">="),
        ("`--workers 2` / Prism", rps(two, "Prism (Node), canned example"), 2.5, ">="),
        ("`serve` RSS after load, MB", r.get(serve, {}).get("rss_mb"), 60.0, "<="),
        ("in-process login / trivial app", inproc["mockauth"] / inproc["trivial"], 1.5, "<="),
    ]
    out = ["| target | measured | bound | met |", "|---|---:|---:|---|"]
    for name, value, bound, op in rows:
        if value is None:
            out.append(f"| {name} | — | {op} {bound} | not measured |")
            continue
        met = value >= bound if op == ">=" else value <= bound
        out.append(f"| {name} | {value:.2f} | {op} {bound} | {'yes' if met else '**no**'} |")
    out.append(
        "| 5. contract runner against `mockauth serve` | see "
        "[Contract runner against `mockauth serve`](#contract-runner-against-mockauth-serve-at-most-10-s) "
        "| <= 10 s | — |"
    )
    return [*out, ""]


def write_results(path: Path, block: str) -> None:
    """Replace the generated block, keep every other section (hand-written notes, the
    fixture-overhead section) as it is."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n## Serving: logins/s, start-up, memory\n\n" + block
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "mockauth-bench"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of each measured load"
    )
    parser.add_argument("--starts", type=int, default=9, help="starts per server, median taken")
    parser.add_argument("--rounds", type=int, default=3, help="loads per server, paired ratios, median taken")
    parser.add_argument(
        "--only", help="comma-separated words; servers whose name has none are skipped"
    )
    parser.add_argument(
        "--plugin-runs", type=int, default=15, help="pytest runs with and without the plugin"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 s loads, 5 starts, 1 round, 7 plugin runs, write nothing (about 2 minutes)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.starts, args.rounds, args.plugin_runs = 3.0, 5, 1, 7
    command = "python bench/run.py" + "".join(f" {a}" for a in sys.argv[1:])
    print("installing into", args.workdir, flush=True)
    tools = install(args.workdir)
    info = versions(tools)
    print("pytest plugin's cost, bare venv", flush=True)
    plugin = plugin_cost(args.workdir, args.plugin_runs)
    print(
        f"  plugin {plugin['plugin_wall'] * 1000:.0f} ms, -p no:mockauth "
        f"{plugin['no_plugin_wall'] * 1000:.0f} ms (wall, medians)",
        flush=True,
    )
    found = targets(tools)
    if "wiremock_jar" not in tools:
        print("no java or no WireMock jar: WireMock is left out", flush=True)
    if args.only:
        words = [w.strip().lower() for w in args.only.split(",")]
        found = [t for t in found if t.baseline or any(w in t.name.lower() for w in words)]
    log = args.workdir / "servers.log"
    failed: set[str] = set()

    def attempt(t: Target, measure: Callable[[], None]) -> None:
        if t.name in failed:
            return
        try:
            measure()
        except (RuntimeError, subprocess.SubprocessError) as error:
            t.note = str(error).splitlines()[0]
            t.result, t.rounds = {}, []
            failed.add(t.name)
            print(f"  {t.name} failed:", t.note, f"(see {log})", flush=True)

    # Starts first, cycle after cycle over every server, so the ratio of two servers'
    # medians compares starts spread over the same minutes of a shared machine.
    startups: dict[str, list[tuple[float, float]]] = {t.name: [] for t in found}
    for cycle in range(1, args.starts + 1):
        print(f"starts, cycle {cycle} of {args.starts}", flush=True)
        for t in found:
            attempt(t, lambda t=t: startups[t.name].append(measure_start(t, log)))  # type: ignore[misc]
    # Then the loads, round after round over every server, not every round of one server
    # in a row: a burst of load from elsewhere then hits one round of several servers
    # rather than every round of one. Ratios pair each round with its baseline's.
    for round_number in range(1, args.rounds + 1):
        print(f"loads, round {round_number} of {args.rounds}", flush=True)
        for t in found:
            if not t.load:
                continue
            if args.quick:
                t.warmup = min(t.warmup, 1.0)

            def load(t: Target = t) -> None:
                result = measure_load(t, tools["wrk"], args.duration, log)
                t.rounds.append(result["rps"])
                if result["rps"] > t.result.get("rps", 0):
                    t.result = result
                print(
                    f"  {t.name}: {result['rps']:,.0f} logins/s, p99 {result['p99']:.1f} ms, "
                    f"RSS {result['rss_mb']:.0f} MB",
                    flush=True,
                )

            attempt(t, load)
    for t in found:
        if startups[t.name] and t.name not in failed:
            t.result["start_ms"] = statistics.median(w for w, _ in startups[t.name]) * 1000
            t.result["start_cpu_ms"] = statistics.median(c for _, c in startups[t.name]) * 1000
    inproc = in_process(tools["python"])
    block = report(found, inproc, plugin, info, command, args.duration, args.starts, args.rounds)
    print(block)
    overhead = BENCH / "fixture_overhead.py"
    if overhead.exists() and not args.quick:
        print("running", overhead.name, flush=True)
        subprocess.run([tools["python"], str(overhead)], cwd=REPO, check=False)
    if not args.quick:
        write_results(args.out, block)
        print("written:", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
