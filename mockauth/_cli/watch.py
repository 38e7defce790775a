"""Hot reload of the fixtures: ``mockauth serve --watch``.

The users are swapped in place (``MockAuth.replace_fixtures``), so issued tokens, armed
modes, the clock and the journal survive an edit. A broken edit keeps the last good
users and shows the error in ``state()["fixture_error"]`` (the dashboard's banner) until
the file is fixed. Settings are read once at start: a changed ``settings:`` block is
reported as needing a restart, because keys, lifetimes and the issuer are baked into
tokens already handed out.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import MockAuthError, ServerError
from .._fixtures import load_fixtures
from .common import plural

if TYPE_CHECKING:
    from .._mock import MockAuth

# Polling, not inotify: no dependency, works the same on every file system, and a
# fixtures folder is a few small files. Reading them four times a second costs nothing.
INTERVAL = 0.25
SHUTDOWN_TIMEOUT = 5.0


def _signature(path: Path) -> tuple[tuple[str, str], ...]:
    """What the fixtures look like now: each YAML file's name and a digest of its bytes.

    Digests rather than modification times: two saves within one tick of the file
    system's clock (a few milliseconds) would look like one.
    """
    try:
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
    except NotADirectoryError:
        files = [path]
    except OSError:
        return (("", "missing"),)
    signature = []
    for file in files:
        try:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError:
            digest = "unreadable"
        signature.append((file.name, digest))
    return tuple(signature)


class FixtureWatcher:
    """Reload `auth`'s fixtures whenever a file under `path` changes; a context manager.

    >>> with FixtureWatcher(auth):  # doctest: +SKIP
    ...     ...  # edits to auth.fixtures_path now take effect within half a second
    """

    def __init__(
        self, auth: MockAuth, path: str | Path | None = None, *, interval: float = INTERVAL
    ) -> None:
        path = path if path is not None else auth.fixtures_path
        if path is None:
            raise ServerError("nothing to watch: this MockAuth was not made from fixtures")
        self.auth = auth
        self.path = Path(path)
        self.interval = interval
        self.reloads = 0
        # Taken now, not when the thread starts: an edit made right after start() counts.
        self._loaded = _signature(self.path)
        self._settings: Mapping[str, Any] = self._current_settings()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _current_settings(self) -> Mapping[str, Any]:
        try:
            return load_fixtures(self.path).settings
        except MockAuthError:
            return {}

    def start(self) -> FixtureWatcher:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mockauth-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
            self._thread = None

    def __enter__(self) -> FixtureWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loaded = seen = self._loaded
        while not self._stop.wait(self.interval):
            current = _signature(self.path)
            # Reload once the files have stayed the same for one interval, so an editor
            # that writes in several steps is read once, after its last write.
            if current != loaded and current == seen:
                loaded = current
                self.reload()
            seen = current

    def reload(self) -> bool:
        """Load the fixtures now; True when the new users are in force."""
        auth = self.auth
        try:
            fixtures = load_fixtures(self.path)
        except MockAuthError as error:
            auth.fixture_error = f"{error} (still serving the last good users)"
            auth.log(f"fixtures not reloaded, still serving the last good users: {error}")
            return False
        except Exception as error:  # a bug must not kill the watcher; say so and go on
            auth.fixture_error = f"{self.path}: reload failed: {error!r}"
            auth.log(f"fixtures not reloaded: {error!r}")
            return False
        auth.replace_fixtures(fixtures)
        self.reloads += 1
        names = ", ".join(user.username for user in fixtures.users) or "none"
        auth.log(f"fixtures reloaded from {self.path}: {plural(len(fixtures.users), 'user')} ({names})")
        keys = set(fixtures.settings) | set(self._settings)
        changed = sorted(k for k in keys if fixtures.settings.get(k) != self._settings.get(k))
        if changed:
            auth.fixture_error = (
                f"{self.path}: settings: {', '.join(changed)} changed; restart mockauth to "
                "apply settings (the users were reloaded)"
            )
            auth.log(auth.fixture_error)
        else:
            auth.fixture_error = None
        return True
