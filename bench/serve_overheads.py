"""What the live server's work around the app costs, against the trivial app on Werkzeug.

    python bench/serve_overheads.py              # 3 rounds, about 3 minutes
    python bench/serve_overheads.py --rounds 5

Target 3 of bench/run.py compares `mockauth serve` with the trivial Werkzeug app. In-process
a mockauth login costs what a trivial one does, so the gap is in what `mockauth serve`
does around the app. This serves the same app (the bundled fixtures) four ways, each
beside the trivial app in every round, and prints each one's logins/s over the trivial
app's in the same round (the median over the rounds):

- `mockauth serve`, as users run it (the access log on, the read timeout on);
- the mock's live server without the access log;
- ... and without the read timeout (a socket timeout: each read waits in poll() first);
- Werkzeug's `run_simple` with a quiet handler, as the trivial app is served;
- the live server without the access log and with no journal entry recorded (not a
  setting: the journal is what `assert_called`, the dashboard and the control API read),
  for what the journal costs a login.

Load: `wrk -t2 -c16 -d4s -s bench/login.lua` after a 1 s warm-up, one server at a time.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import stop  # noqa: E402  (bench/run.py: SIGTERM, then SIGKILL, to the group)

SERVE = """
import sys, time
from mockauth import MockAuth
from mockauth._doors.live import Server

how, port = sys.argv[1], int(sys.argv[2])
auth = MockAuth.from_fixtures()
if how == "run_simple":
    from werkzeug.serving import WSGIRequestHandler, run_simple

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args):
            pass

    run_simple("127.0.0.1", port, auth.app, threaded=True, request_handler=Quiet)
else:
    if how == "no_log_no_journal":
        auth.app._journal = lambda *args: None  # what the journal costs a login, live
    timeout = None if how == "no_log_no_timeout" else auth.settings.read_timeout
    with Server(auth.app, "127.0.0.1", port, quiet=True, read_timeout=timeout):
        while True:
            time.sleep(60)
"""

WAYS: dict[str, Callable[[int], list[str]]] = {
    "trivial app, Werkzeug threaded (quiet)": lambda port: [sys.executable, str(BENCH / "trivial_app.py"), str(port)],
    "mockauth serve (access log, read timeout)": lambda port: [
        sys.executable, "-m", "mockauth", "serve", "--port", str(port)],
    "live server, no access log": lambda port: [sys.executable, "-c", SERVE, "no_log", str(port)],
    "live server, no access log, no read timeout": lambda port: [
        sys.executable, "-c", SERVE, "no_log_no_timeout", str(port)],
    "mockauth's app on run_simple, quiet": lambda port: [sys.executable, "-c", SERVE, "run_simple", str(port)],
    "live server, no access log, no journal": lambda port: [
        sys.executable, "-c", SERVE, "no_log_no_journal", str(port)],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def logins_per_second(command_on: Callable[[int], list[str]], seconds: int) -> float:
    port = free_port()
    command = command_on(port)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=BENCH
    )
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/auth/login"
        wrk = ["wrk", "-t2", "-c16", "-s", str(BENCH / "login.lua")]
        subprocess.run([*wrk, "-d1s", url], capture_output=True, check=True)
        out = subprocess.run([*wrk, f"-d{seconds}s", url], capture_output=True, text=True, check=True).stdout
        if "Non-2xx" in out:
            raise RuntimeError(f"{command}: answers other than 200:\n{out}")
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if found is None:
            raise RuntimeError(f"wrk said no rate:\n{out}")
        return float(found.group(1))
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in WAYS}
    for _ in range(args.rounds):
        for name, command in WAYS.items():
            rates[name].append(logins_per_second(command, args.seconds))
    trivial = rates[next(iter(WAYS))]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"`python bench/serve_overheads.py --rounds {args.rounds}`, {when}")
    print("\n| server | logins/s by round | ratio to the trivial app (median of the rounds) |")
    print("|---|---|---:|")
    for name, values in rates.items():
        ratio = statistics.median(a / b for a, b in zip(values, trivial, strict=True))
        print(f"| {name} | {', '.join(f'{v:,.0f}' for v in values)} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
