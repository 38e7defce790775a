"""YAML documents (the spec, fixture files), read through a cache of their parsed form.

Reading YAML was a third of what `mockauth serve` does at start beyond what a plain
Werkzeug app does: importing PyYAML (its reader compiles a Unicode regex, 7 ms) and
parsing the bundled ``openapi.yaml`` and fixtures (bench/RESULTS.md). A document parsed
once is kept as JSON, named by the SHA-256 of its text, in the user's cache folder
(``$MOCKAUTH_CACHE_DIR``, ``off`` for none, else ``$XDG_CACHE_HOME/mockauth`` or ``~/.cache/mockauth``;
``~/Library/Caches/mockauth`` on macOS, ``%LOCALAPPDATA%\\mockauth\\cache`` on Windows),
and read back from there in a millisecond without importing PyYAML at all.

Only documents JSON keeps exactly are cached (a date, or a key that is not text, is
parsed every time); a changed file is a new text, so never read stale; a folder that
cannot be written only costs the parse; at most MAX_ENTRIES files are kept, the least
recently used dropped first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_DIR_VARIABLE = "MOCKAUTH_CACHE_DIR"
MAX_ENTRIES = 64
# Part of every key: a change to what is kept (or how) starts a new set of files.
_FORMAT = b"mockauth-yaml-1\n"
_ENTRY_NAME = r"[0-9a-f]{64}\.json"  # compiled when first pruning, not at every start


def cache_dir() -> Path | None:
    """The folder of parsed documents; None when caching is off (``MOCKAUTH_CACHE_DIR=off``)
    or there is no home folder to put it in."""
    override = os.environ.get(CACHE_DIR_VARIABLE)
    if override == "off":
        return None
    if override:
        return Path(override).expanduser()
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no entry in the password database
        return None
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "mockauth" / "cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "mockauth"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative path is invalid and must be ignored.
    return (Path(xdg) if os.path.isabs(xdg) else home / ".cache") / "mockauth"


def load_yaml(text: str, parse: Callable[[str], Any]) -> Any:
    """The document `text` holds: from the cache, or ``parse(text)`` (which raises the
    caller's own error for bad YAML), kept for next time."""
    folder = cache_dir()
    if folder is None:
        return parse(text)
    entry = folder / (hashlib.sha256(_FORMAT + text.encode("utf-8", "surrogatepass")).hexdigest() + ".json")
    with contextlib.suppress(OSError, ValueError):
        document = json.loads(entry.read_text(encoding="utf-8"))
        with contextlib.suppress(OSError):
            os.utime(entry)  # used now: the last to be dropped when the cache is full
        return document
    document = parse(text)
    _keep(entry, document)
    return document


def parse_yaml(text: str, *, file: Path, error: type[Exception]) -> Any:
    """`text`, the content of `file`, parsed; bad YAML raises `error` naming the file, the
    line and column, and the problem in one line (PyYAML's own text spans lines)."""
    import yaml  # here, not at the top: a document read from the cache never needs it

    try:
        # libyaml's loader reads in a tenth of the time of the pure-Python one; same
        # documents, same errors.
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = getattr(problem, "problem", None) or "invalid YAML"
        raise error(f"{file}: invalid YAML{where}: {what}") from None
    except RecursionError:
        raise error(f"{file}: invalid YAML: nested too deeply") from None


def _keep(entry: Path, document: Any) -> None:
    try:
        kept = json.dumps(document, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return  # a date or another value JSON has no word for, or nested too deeply
    if json.loads(kept) != document:
        return  # a key that is not text, which JSON would turn into one
    # Written aside and renamed: another process reads the whole file or none of it.
    spare = entry.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        # Fixture files hold passwords: the folder is the user's alone, like the files.
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with os.fdopen(os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
            out.write(kept)
        os.replace(spare, entry)
    except (OSError, ValueError):  # ValueError: a lone surrogate ("\ud800") UTF-8 cannot hold
        with contextlib.suppress(OSError):
            spare.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        return
    with contextlib.suppress(OSError):
        # Only its own entries: the folder may be one the user named, holding other files.
        entries = sorted(
            (path for path in entry.parent.glob("*.json") if re.fullmatch(_ENTRY_NAME, path.name)), key=_modified
        )
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
