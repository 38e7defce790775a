"""Real deployments of an auth API written with other frameworks, served for real on a
free loopback port, for holding the contract runner to code mockauth did not write:

* ``fastapi_app``: FastAPI's tutorial pattern, served by uvicorn (the usual gaps);
* ``flask_app``: Flask + Flask-JWT-Extended, served by gunicorn (compliant);
* ``authlib_app``: an OAuth 2.0 authorization server on Authlib's Flask integration, served
  by gunicorn (one departure from RFC 6749, in Authlib itself).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = {
    "fastapi_app": [
        "-m", "uvicorn", "--app-dir", str(HERE), "--log-level", "warning", "--host", "127.0.0.1", "--port", "{port}",
        "fastapi_app:app",
    ],
    "flask_app": [
        "-m", "gunicorn", "--chdir", str(HERE), "--workers", "1", "--threads", "4",
        "--log-level", "warning", "--bind", "127.0.0.1:{port}", "flask_app:app",
    ],
    # One worker process: its codes, tokens and sessions live in memory.
    "authlib_app": [
        "-m", "gunicorn", "--chdir", str(HERE), "--workers", "1", "--threads", "4",
        "--log-level", "warning", "--bind", "127.0.0.1:{port}", "authlib_app:app",
    ],
}


@contextlib.contextmanager
def serve(name: str, *, hash_cost: str = "fast") -> Iterator[str]:
    """Serve the deployment `name` in a child process on a free loopback port; yield its base URL."""
    from conftest import end_process, free_port

    port = free_port()
    command = [sys.executable, *(part.format(port=port) for part in SERVERS[name])]
    process = subprocess.Popen(
        command, env={**os.environ, "HASH_COST": hash_cost}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_until_answering(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        end_process(process)
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_answering(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the deployment exited with status {process.returncode}: {output}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            connection.close()
    raise RuntimeError(f"the deployment did not answer on port {port} within {timeout} s")
