"""CPU time of one login through the WSGI app itself, mockauth beside the trivial app.

    python bench/hot_path.py             # microseconds per login, best of 3 x 5000
    python bench/hot_path.py --profile   # and cProfile's top functions for mockauth

No server and no client: the app is called with a ready environ, so the figure is the
app's own cost, the part the hot-path work in RESULTS.md changed. Thread CPU time, not
wall time, so other load on the machine moves it little.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trivial_app

from mockauth import MockAuth

BODY = b"username=user%40example.com&password=secretpassword"
LOGINS = 5000


def environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/auth/login",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8765",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_HOST": "127.0.0.1:8765",
        "wsgi.input": io.BytesIO(BODY),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    if not status.startswith("200"):
        raise RuntimeError(f"login answered {status}")


def per_login(app: Callable[..., Any], count: int = LOGINS) -> float:
    started = time.thread_time()
    for _ in range(count):
        b"".join(app(environ(), start_response))
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    apps = {"trivial": trivial_app.app, "mockauth": MockAuth.from_fixtures().app}
    best: dict[str, float] = {}
    for app in apps.values():
        per_login(app, 500)  # warm up
    for _ in range(3):
        for name, app in apps.items():
            best[name] = min(best.get(name, float("inf")), per_login(app))
    print(
        f"mockauth {best['mockauth']:.0f} us/login, trivial app {best['trivial']:.0f} us/login, "
        f"ratio {best['mockauth'] / best['trivial']:.2f}x"
    )
    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        profile.runcall(per_login, apps["mockauth"])
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
