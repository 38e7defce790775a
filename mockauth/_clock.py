from __future__ import annotations

import threading
import time


class Clock:
    """The one clock that issues and checks every token.

    It follows the wall clock, shifted by an offset, until frozen::

        auth.clock.advance(seconds=901)   # every token issued 901 s ago is now older
        auth.clock.freeze()               # time stands still until unfreeze() or reset()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        frozen_at = self._frozen_at
        if frozen_at is not None:
            return frozen_at
        return time.time() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def offset(self) -> float:
        """Seconds between the mock's time and the wall clock."""
        return self.now() - time.time()

    def advance(self, seconds: float) -> float:
        """Move time forward (or back, with a negative number); returns the new now."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
            return self.now()

    def freeze(self, at: float | None = None) -> float:
        """Stop time, at `at` (a Unix time) or at the current time."""
        with self._lock:
            self._frozen_at = self.now() if at is None else float(at)
            return self._frozen_at

    def unfreeze(self) -> float:
        """Let time run again from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None
            return self.now()

    def set(self, at: float) -> float:
        """Jump to a Unix time; a frozen clock stays frozen there."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = float(at)
            else:
                self._offset = float(at) - time.time()
            return self.now()

    def reset(self) -> float:
        """Back to the wall clock, running."""
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None
            return self.now()

    def as_dict(self) -> dict[str, float | bool]:
        return {"now": self.now(), "frozen": self.frozen, "offset": round(self.offset, 3)}
