"""Logins/s of mockauth with its state in memory and in Redis, one process and two workers.

    python bench/scaleout.py                  # 10 s loads, prints a Markdown table
    python bench/scaleout.py --write          # ... and puts it in bench/RESULTS.md

Needs this checkout installed with the redis and server extras (``pip install -e
'.[redis,server]'``), ``redis-server`` and ``wrk`` on PATH. Starts a throwaway
redis-server (nothing saved) and each server in turn on free loopback ports; loads each
with ``wrk -t2 -c16`` POSTing a login (bench/login.lua) after a 2 s warm-up, and checks
that every answer was a 200. The machine may be busy with other work: the servers are
loaded in turn, --rounds times over, and each one's best round is kept.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LOGIN_BODY = "username=user%40example.com&password=secretpassword"
BEGIN, END = "<!-- bench/scaleout.py: begin -->", "<!-- bench/scaleout.py: end -->"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_login(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with status {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", "/auth/login", LOGIN_BODY, {"Content-Type": "application/x-www-form-urlencoded"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no 200 on port {port} within {timeout} s")


def wrk(port: int, duration: float, connections: int) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(BENCH / "login.lua"),
         f"http://127.0.0.1:{port}/auth/login"],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"not every answer was a 200:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def latency(percent: str) -> float:
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rate": rate, "p50": latency("50"), "p99": latency("99")}


def in_process(state: str, logins: int = 2000) -> float:
    """CPU microseconds per login through the Werkzeug test client (no HTTP, no server):
    what the store adds to the app's own work. Best of 5."""
    from mockauth import MockAuth

    auth = MockAuth.from_fixtures(state=state, state_namespace=f"bench-{uuid.uuid4().hex[:8]}")
    client = auth.test_client()
    data = {"username": "user@example.com", "password": "secretpassword"}
    for _ in range(300):
        client.post("/auth/login", data=data)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(logins):
            client.post("/auth/login", data=data)
        best = min(best, (time.process_time() - started) / logins * 1e6)
    auth.store.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="loads per server, interleaved; the best is kept")
    parser.add_argument("--write", action="store_true", help="put the table in bench/RESULTS.md")
    args = parser.parse_args()
    mockauth = shutil.which("mockauth", path=str(Path(sys.executable).parent)) or "mockauth"
    for tool in ("redis-server", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH")

    redis_port = free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    configurations = [
        ("memory, one process (Werkzeug, threaded)", []),
        ("memory, `--workers 1` (gunicorn)", ["--workers", "1"]),
        ("memory, `--workers 2 --accept-per-worker-state`", ["--workers", "2", "--accept-per-worker-state"]),
        ("redis, one process (Werkzeug, threaded)", ["--state", redis_url]),
        ("redis, `--workers 1`", ["--workers", "1", "--state", redis_url]),
        ("redis, `--workers 2`", ["--workers", "2", "--state", redis_url]),
    ]
    best: dict[str, dict[str, float]] = {}
    try:
        for round_ in range(args.rounds):
            for name, flags in configurations:
                port = free_port()
                command = [mockauth, "serve", "--port", str(port), *flags]
                if "--state" in flags:
                    command += ["--state-namespace", f"bench-{uuid.uuid4().hex[:8]}"]
                server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    wait_for_login(port, server)
                    wrk(port, 2, args.connections)  # warm-up
                    result = wrk(port, args.duration, args.connections)
                finally:
                    server.terminate()
                    server.wait(30)
                if name not in best or result["rate"] > best[name]["rate"]:
                    best[name] = result
                print(f"round {round_ + 1}, {name}: {result['rate']:.0f} logins/s, "
                      f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms", flush=True)
        cpu = {"memory": in_process("memory"), "redis": in_process(redis_url)}
    finally:
        redis.terminate()
        redis.wait(10)
    rows = [(name, best[name]) for name, _ in configurations]

    command_line = "python bench/scaleout.py" + (" --write" if args.write else "")
    if args.duration != 10.0:
        command_line += f" --duration {args.duration:g}"
    if args.rounds != 3:
        command_line += f" --rounds {args.rounds}"
    table = [
        BEGIN,
        "## Scale-out: state in memory and in Redis",
        "",
        f"`{command_line}` on {datetime.date.today()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs (wrk, the servers and redis-server share them); "
        f"`wrk -t2 -c{args.connections} -d{args.duration:g}s` POSTing a login, every answer a 200; "
        f"best of {args.rounds} interleaved rounds (load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}).",
        "",
        "| server and state | logins/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {r['rate']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |" for name, r in rows),
        "",
        f"In-process, through the Werkzeug test client (no HTTP): {cpu['memory']:.0f} us of CPU per login "
        f"with the state in memory, {cpu['redis']:.0f} us with it in Redis (three round trips per login: "
        "the request's snapshot of clock, users and modes; the refresh token; the journal entry).",
        END,
    ]
    text = "\n".join(table)
    print(text)
    if args.write:
        results = BENCH / "RESULTS.md"
        old = results.read_text() if results.exists() else ""
        if BEGIN in old and END in old:
            new = old[: old.index(BEGIN)] + text + old[old.index(END) + len(END):]
        else:
            new = old.rstrip() + ("\n\n" if old else "") + text + "\n"
        results.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
