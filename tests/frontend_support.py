"""Helpers for the frontend tests: `mockauth serve` as a user runs it, a static file
server on another origin, bounded waits, and the system Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import end_process

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "frontend"
# Chromium must not reach out on a closed network: each of these stops one kind of call home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class Served:
    """A running `mockauth serve`: its URL and what it printed so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.url = ""
        self.stdout: list[str] = []
        self.stderr: list[str] = []

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy; a bound on waiting, not a timing test."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def mockauth_serve(*args: str) -> Iterator[Served]:
    """`python -m mockauth serve --port 0 ARGS` in a subprocess, stopped with SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockauth", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    served = Served(process)
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, served.stdout), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, served.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:

        def started() -> str | None:
            if process.poll() is not None:
                raise AssertionError(
                    f"mockauth serve exited {process.returncode}:\n{served.output()}"
                )
            found = re.search(r"serving (https?://\S+)", "".join(served.stdout))
            return found.group(1) if found else None

        served.url = wait_for(started, "mockauth serve to print its URL")
        yield served
    finally:
        end_process(process)
        for reader in readers:
            reader.join(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _drain(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 and a free port: a page on an origin of its own."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def chromium() -> str:
    """The system Chromium; in CI its absence fails the test, elsewhere it skips it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = None if path else "no chromium on PATH (apt-get install chromium)"
    if path and not _playwright_available():
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing:
        _unavailable(missing)
    assert path is not None
    return path


@contextlib.contextmanager
def chromium_browser() -> Iterator[Any]:
    """The system Chromium under Playwright (never a downloaded browser), closed after."""
    path = chromium()
    from playwright.sync_api import expect, sync_playwright

    # Generous: two workers share two cores with two browsers. Only a bound, never a measure.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh temporary --user-data-dir of its own.
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def certutil() -> str:
    """NSS's certutil (Debian's libnss3-tools), which trusts a CA in the certificate store
    Chromium reads on Linux; in CI its absence fails the test, elsewhere it skips it."""
    path = shutil.which("certutil")
    if path is None:
        _unavailable("no certutil on PATH (apt-get install libnss3-tools)")
    assert path is not None
    return path


def _unavailable(missing: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need this in CI: {missing}")
    pytest.skip(missing)


def _playwright_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True
