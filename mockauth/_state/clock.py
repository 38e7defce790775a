"""The one clock that issues and checks every token."""

from __future__ import annotations

import time
from typing import Any

from .._errors import ConfigError
from .._values import describe, is_number
from .stores import ClockStore

MAX_CLOCK_NUMBER = 1e11  # seconds: about 3,000 years either way


def checked_seconds(name: str, value: Any) -> float:
    """`value` as a number of seconds, or ConfigError: a clock at NaN or infinity would
    refuse every token and never come back, and text is no time."""
    if not is_number(value) or abs(value) > MAX_CLOCK_NUMBER:
        raise ConfigError(
            f"clock: {name!r} must be a finite number (seconds, at most {MAX_CLOCK_NUMBER:.0e} either way), "
            f"got {describe(value)}"
        )
    return float(value)


class Clock:
    """The one clock that issues and checks every token.

    It follows the wall clock, shifted by an offset, until frozen::

        auth.clock.advance(seconds=901)   # every token issued 901 s ago is now older
        auth.clock.freeze()               # time stands still until unfreeze() or reset()

    Its offset and frozen time live in the mock's store, so every process sharing a
    store reads the same time.
    """

    def __init__(self, store: ClockStore) -> None:
        self._store = store

    def now(self) -> float:
        offset, frozen_at = self._store.clock()
        if frozen_at is not None:
            return frozen_at
        return time.time() + offset

    @property
    def frozen(self) -> bool:
        return self._store.clock()[1] is not None

    @property
    def offset(self) -> float:
        """Seconds between the mock's time and the wall clock."""
        return self.now() - time.time()

    def advance(self, seconds: float) -> float:
        """Move time forward (or back, with a negative number); returns the new now."""
        seconds = checked_seconds("seconds", seconds)
        return self._now_of(self._store.change_clock(
            lambda offset, frozen_at: (offset, frozen_at + seconds)
            if frozen_at is not None
            else (offset + seconds, None)
        ))

    def freeze(self, at: float | None = None) -> float:
        """Stop time, at `at` (a Unix time) or at the current time."""
        at = None if at is None else checked_seconds("at", at)
        return self._now_of(self._store.change_clock(
            lambda offset, frozen_at: (
                offset,
                float(at) if at is not None else frozen_at if frozen_at is not None else time.time() + offset,
            )
        ))

    def unfreeze(self) -> float:
        """Let time run again from where it stands."""
        return self._now_of(self._store.change_clock(
            lambda offset, frozen_at: (offset, None) if frozen_at is None else (frozen_at - time.time(), None)
        ))

    def set(self, at: float) -> float:
        """Jump to a Unix time; a frozen clock stays frozen there."""
        at = checked_seconds("at", at)
        return self._now_of(self._store.change_clock(
            lambda offset, frozen_at: (offset, float(at)) if frozen_at is not None else (float(at) - time.time(), None)
        ))

    def reset(self) -> float:
        """Back to the wall clock, running."""
        return self._now_of(self._store.change_clock(lambda offset, frozen_at: (0.0, None)))

    @staticmethod
    def _now_of(state: tuple[float, float | None]) -> float:
        offset, frozen_at = state
        return frozen_at if frozen_at is not None else time.time() + offset

    def as_dict(self) -> dict[str, float | bool]:
        offset, frozen_at = self._store.clock()
        now = frozen_at if frozen_at is not None else time.time() + offset
        return {"now": now, "frozen": frozen_at is not None, "offset": round(now - time.time(), 3)}
