"""How long a default `mockauth contract` run takes, against real deployments whose login
costs about 100 ms of CPU (argon2, bcrypt, as in production) and against `mockauth serve`.

    python bench/contract_budget.py             # about 4 minutes; rewrites its block of RESULTS.md
    python bench/contract_budget.py --rounds 2  # each run twice, all figures kept
    python bench/contract_budget.py --dry-run   # prints, writes nothing
    python bench/contract_budget.py --before /tmp/main  # also main's runner (a source tree:
        # git archive main mockauth openapi.yaml fixtures | tar -x -C /tmp/main) against the
        # same mock in each round, the two alternating which goes first, for a before/after in one run

Run it with the checkout's venv and the test extra (`pip install -e '.[test]'`): the
deployments are tests/deployments/ (FastAPI on uvicorn, Flask on gunicorn), served on free
loopback ports with their production hash cost. Each run is the command a user types
(README's settings for FastAPI; flags for Flask; a bare URL for the mock), timed from
spawn to exit, with the CPU the runner spent (its process and children) and the CPU the
deployment's process spent meanwhile. The login's CPU cost is read off the server's own
process (utime + stime in /proc) over 10 logins.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from deployments import SERVERS, serve  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- bench/contract_budget.py: begin -->", "<!-- bench/contract_budget.py: end -->"
FASTAPI_SETTINGS = """\
url = "{url}"
username = "johndoe"
password-env = "FASTAPI_PASSWORD"
operations = ["login", "me"]
content-type = "form"

[paths]
login = "/token"
me = "/users/me/"
"""
FLASK_FLAGS = [
    "--username", "ada@example.com", "--operations", "login,refresh,me,logout,health", "--content-type", "json",
    "--path", "login=/api/login", "--path", "refresh=/api/token/refresh", "--path", "me=/api/profile",
    "--path", "logout=/api/logout", "--path", "health=/api/health",
]


def server_pid(port: int) -> int | None:
    """The process listening on `port` (the deployment's worker), from /proc/net/tcp."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
    if inode is None:
        return None
    candidates = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                candidates.append(int(fd.parts[2]))
        except OSError:
            continue
    return max(candidates) if candidates else None  # gunicorn: the worker, forked after the master


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def login_cpu(url: str, path: str, body: bytes, content_type: str) -> float | None:
    """CPU seconds the deployment spends per login, over 10 logins."""
    pid = server_pid(int(url.rsplit(":", 1)[1]))
    if pid is None:
        return None
    before = cpu_seconds(pid)
    for _ in range(10):
        request = urllib.request.Request(url + path, data=body, headers={"Content-Type": content_type})
        urllib.request.urlopen(request, timeout=10).read()
    return (cpu_seconds(pid) - before) / 10


def timed(command: list[str], env: dict[str, str], cwd: Path, url: str) -> dict[str, object]:
    """Run `command`: its seconds, exit, summary and phases, its CPU and the server's meanwhile."""
    pid = server_pid(int(url.rsplit(":", 1)[1]))
    server_before = cpu_seconds(pid) if pid else None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=600)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    runner_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return {
        "seconds": seconds, "exit": result.returncode, "summary": summary(result.stdout),
        "phases": phases(result.stdout), "runner_cpu": runner_cpu,
        "server_cpu": cpu_seconds(pid) - server_before if pid and server_before is not None else None,
    }


def phases(stdout: str) -> str:
    block = stdout.split("\nschema phases:\n", 1)
    lines = block[1].split("\n\n", 1)[0].splitlines() if len(block) > 1 else []
    return "; ".join(" ".join(line.split()) for line in lines)


def summary(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if re.search(r" (conforms|does NOT conform|was not checked)", line)]
    return re.sub(r"http://127\.0\.0\.1:\d+", "<url>", lines[-1]) if lines else "(no summary)"


def run_fastapi(workdir: Path) -> dict[str, object]:
    with serve("fastapi_app", hash_cost="real") as url:
        cost = login_cpu(url, "/token", b"username=johndoe&password=secret", "application/x-www-form-urlencoded")
        (workdir / "mockauth-contract.toml").write_text(FASTAPI_SETTINGS.format(url=url), encoding="utf-8")
        run = timed([sys.executable, "-m", "mockauth", "contract"], {"FASTAPI_PASSWORD": "secret"}, workdir, url)
    return {"target": "FastAPI tutorial app, argon2 (uvicorn)", "command": "mockauth contract  (README's "
            "mockauth-contract.toml)", "login_cpu": cost, **run}


def run_flask(workdir: Path) -> dict[str, object]:
    with serve("flask_app", hash_cost="real") as url:
        body = json.dumps({"username": "ada@example.com", "password": "correct horse battery staple"}).encode()
        cost = login_cpu(url, "/api/login", body, "application/json")
        run = timed(
            [sys.executable, "-m", "mockauth", "contract", url, *FLASK_FLAGS],
            {"MOCKAUTH_CONTRACT_PASSWORD": "correct horse battery staple"}, workdir, url,
        )
    return {"target": "Flask + Flask-JWT-Extended, bcrypt (gunicorn)",
            "command": "mockauth contract URL " + " ".join(FLASK_FLAGS), "login_cpu": cost, **run}


def run_mock(workdir: Path, before: Path | None = None, first: bool = True) -> list[dict[str, object]]:
    from conftest import end_process, free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mockauth", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.05)
        body = urllib.parse.urlencode({"username": "user@example.com", "password": "secretpassword"}).encode()
        cost = login_cpu(url, "/auth/login", body, "application/x-www-form-urlencoded")
        command = [sys.executable, "-m", "mockauth", "contract", url, "--username", "user@example.com"]
        if before:  # untimed: neither runner pays for the server's first answers to each kind of request
            timed(command, {"MOCKAUTH_CONTRACT_PASSWORD": "secretpassword"}, workdir, url)
        runs = []
        checkouts: tuple[Path | None, ...] = (None, before) if first else (before, None)
        for checkout in checkouts if before else (None,):
            run = timed(
                command,
                {"MOCKAUTH_CONTRACT_PASSWORD": "secretpassword", **({"PYTHONPATH": str(checkout)} if checkout else {})},
                workdir, url,
            )
            target = "mockauth serve (target: at most 10 s)" if checkout is None else f"the same, runner of {checkout}"
            runs.append({"target": target, "command": "mockauth contract URL --username user@example.com",
                         "login_cpu": cost, **run})
    finally:
        end_process(server)
    return runs


def render(runs: list[dict[str, object]], load: tuple[float, float], command: str) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        f"Run {when} on {platform.system()} {platform.release()}, {os.cpu_count()} cores; load average "
        f"{load[0]:.1f} before the run, {load[1]:.1f} after (more than 2 means other work shared the 2 "
        "cores: this machine is shared with other engineers' test runs, so the seconds move with them).",
        "",
        f"Command: `{command}`",
        "",
        "| target | login CPU ms | run s | runner CPU s | server CPU s | exit | budget 60 s met | report's summary |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in runs:
        cost, server = run["login_cpu"], run["server_cpu"]
        cost_text = f"{float(cost) * 1000:.0f}" if isinstance(cost, float) else "n/a"
        server_text = f"{float(server):.1f}" if isinstance(server, float) else "n/a"
        seconds = float(run["seconds"])  # type: ignore[arg-type]
        lines.append(
            f"| {run['target']} | {cost_text} | {seconds:.1f} | {float(run['runner_cpu']):.1f} | {server_text} | "  # type: ignore[arg-type]
            f"{run['exit']} | {'yes' if seconds <= 60 else '**no**'} | {run['summary']} |"
        )
    lines += ["", "Commands and schemathesis phases (cases and scenarios each ran, and whether its share of the "
              "budget cut it):", ""]
    for run in runs:
        lines.append(f"- {run['target']}: `{run['command']}`; {run['phases']}")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="run each target this many times")
    parser.add_argument("--dry-run", action="store_true", help="print the results, write nothing")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="also time this source tree's runner against the same mock, beside this one's")
    args = parser.parse_args()
    assert {"fastapi_app", "flask_app"} <= set(SERVERS)
    load_before = os.getloadavg()[0]
    runs = []
    for round_number in range(args.rounds):
        # With --before, which runner goes first alternates from round to round.
        first = round_number % 2 == 0
        for run in (run_fastapi, run_flask, functools.partial(run_mock, before=args.before, first=first)):
            with tempfile.TemporaryDirectory() as tmp:  # each its own: a settings file there is read
                result = run(Path(tmp))
            for item in result if isinstance(result, list) else [result]:
                print(json.dumps(item), flush=True)
                runs.append(item)
    command = "python bench/contract_budget.py" + (f" --rounds {args.rounds}" if args.rounds != 1 else "")
    command += f" --before {args.before}" if args.before else ""
    block = render(runs, (load_before, os.getloadavg()[0]), command)
    print(block)
    if args.dry_run:
        return
    text = RESULTS.read_text(encoding="utf-8")
    if BEGIN in text:
        text = text.split(BEGIN, 1)[0] + block + text.split(END, 1)[1]
    else:
        text += "\n## Contract runner: a default run against real deployments\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
