from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_FOLDER = Path(__file__).resolve().parent / "dashboard"


@lru_cache(maxsize=1)
def page() -> bytes:
    """The dashboard: one HTML file with its CSS and JavaScript inline, no build step."""
    return (_FOLDER / "index.html").read_bytes()
