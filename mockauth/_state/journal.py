"""The journal: every request the mock answered, passwords and tokens left out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from .._errors import MockAuthError
from .._values import printable
from .stores import JournalStore

# Request fields whose values never reach the journal. An authorization code and its
# PKCE verifier are credentials (and a plain code_challenge is the verifier itself).
SECRET_FIELDS = frozenset({
    "password", "refresh_token", "access_token", "token", "client_secret",
    "code", "mfa_token", "change_token", "new_password", "code_verifier", "code_challenge",
})
REDACTED = "[redacted]"


_SECRET_WORDS = ("password", "passwd", "secret", "token")


def _secret(key: str) -> bool:
    # Every request asks about the same few names, so short ones are remembered; a long
    # one (a client may send any) is looked at afresh, or 1,024 remembered names of 60 KB
    # would hold 60 MB.
    return _remembered_secret(key) if len(key) <= MAX_CACHED_NAME else _holds_secret(key)


MAX_CACHED_NAME = 100


def _holds_secret(key: str) -> bool:
    # By name, and by what a name holds: a client's `password2` or `id_token` is as secret.
    lowered = key.lower()
    return key in SECRET_FIELDS or any(word in lowered for word in _SECRET_WORDS)


_remembered_secret = lru_cache(maxsize=1024)(_holds_secret)


# What one entry may hold, so that the journal's size bounds its memory whatever
# clients send (a 64 KiB body of fields would otherwise be kept whole, a thousand times).
MAX_FIELDS = 20
MAX_TEXT = 200
MAX_PATH = 1000


def clipped(text: str, limit: int = MAX_TEXT) -> str:
    """`text` as the journal keeps it: UTF-8 safe, cut at `limit` characters."""
    text = printable(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields as the journal keeps them: secrets redacted, at most MAX_FIELDS,
    each value cut at MAX_TEXT characters."""
    kept: dict[str, Any] = {}
    for key, value in params.items():
        if len(kept) == MAX_FIELDS:
            kept["..."] = f"{len(params) - MAX_FIELDS} more fields"
            break
        text = value if isinstance(value, str) else repr(value)
        kept[clipped(key)] = REDACTED if _secret(key) else clipped(text)
    return kept


@dataclass(frozen=True)
class Entry:
    """One request as the mock saw it. Passwords and tokens are never stored."""

    id: int
    time: float
    method: str
    path: str
    operation: str | None
    status: int
    user: str | None = None
    modes: tuple[str, ...] = ()
    error: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["modes"] = list(self.modes)
        values["params"] = dict(self.params)
        return values


class JournalAssertionError(AssertionError, MockAuthError):
    """An expectation about the journal did not hold."""


class Journal:
    """The requests the mock answered, newest last, at most ``size`` kept.

    ``total`` counts every request since the last clear, dropped ones too::

        auth.journal.assert_called("login", user="user@example.com", times=1)
        assert auth.journal.count("me") == 3
    """

    def __init__(self, store: JournalStore) -> None:
        # The entries live in the store, raw: an Entry is built only when someone reads
        # the journal, so the request path pays for a dict and an append.
        self._store = store

    @property
    def total(self) -> int:
        """Requests recorded since the last clear, dropped ones too."""
        return self._store.total()

    def record(self, **values: Any) -> int:
        """Keep one request; returns its id. Its path and user are cut to a bounded size."""
        values["path"] = clipped(values["path"], MAX_PATH)
        if values.get("user") is not None:
            values["user"] = clipped(values["user"])
        return self._store.add_entry(values)

    def clear(self) -> None:
        self._store.clear()

    def resize(self, size: int) -> None:
        self._store.resize(size)

    def entries(
        self,
        operation: str | None = None,
        *,
        user: str | None = None,
        status: int | None = None,
        after: int | None = None,
    ) -> list[Entry]:
        """Entries, oldest first, filtered by operation, user, status or id."""
        snapshot = [Entry(id=entry_id, **values) for entry_id, values in self._store.entries()]
        return [
            e for e in snapshot
            if (operation is None or e.operation == operation)
            and (user is None or e.user == user)
            and (status is None or e.status == status)
            and (after is None or e.id > after)
        ]

    def count(self, operation: str | None = None, *, user: str | None = None, status: int | None = None) -> int:
        return len(self.entries(operation, user=user, status=status))

    def assert_called(
        self,
        operation: str,
        *,
        user: str | None = None,
        status: int | None = None,
        times: int | None = None,
    ) -> list[Entry]:
        """Assert the operation was called (exactly `times` times if given); returns the calls."""
        found = self.entries(operation, user=user, status=status)
        what = operation + "".join(
            f" {k}={v!r}" for k, v in (("user", user), ("status", status)) if v is not None
        )
        if times is None and not found:
            raise JournalAssertionError(f"expected {what} to be called; it never was{self._recent()}")
        if times is not None and len(found) != times:
            raise JournalAssertionError(
                f"expected {what} to be called {times} time(s), it was called {len(found)}{self._recent()}"
            )
        return found

    def assert_not_called(self, operation: str, *, user: str | None = None) -> None:
        self.assert_called(operation, user=user, times=0)

    def _recent(self) -> str:
        lines = [
            f"  {e.method} {e.path} -> {e.status} user={e.user} modes={','.join(e.modes) or '-'}"
            for e in self.entries()[-10:]
        ]
        return "\nlast requests:\n" + "\n".join(lines) if lines else " (the journal is empty)"

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return self._store.length()
