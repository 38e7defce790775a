"""Where the clock's offset and frozen time live, so every process reads one time."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import Any

from .redis import STATE_TTL, RedisConnection, guarded

ClockState = tuple[float, "float | None"]  # (offset from the wall clock, frozen at)
ClockChange = Callable[[float, "float | None"], ClockState]


class ClockStore(abc.ABC):
    @abc.abstractmethod
    def clock(self) -> ClockState:
        ...

    @abc.abstractmethod
    def change_clock(self, change: ClockChange) -> ClockState:
        """Apply `change(offset, frozen_at)` atomically; returns the new state."""


class MemoryClockStore(ClockStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clock: ClockState = (0.0, None)

    def clock(self) -> ClockState:
        return self._clock

    def change_clock(self, change: ClockChange) -> ClockState:
        with self._lock:
            self._clock = change(*self._clock)
            return self._clock


class RedisClockStore(ClockStore):
    """A hash ``clock`` with ``offset`` and ``frozen`` (empty when running)."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._key = connection.key("clock")
        connection.state_keys.append(self._key)
        connection.snapshot_part(
            "clock", lambda pipe: pipe.hmget(self._key, ["offset", "frozen"]), 1,
            lambda replies: _clock_state(replies[0]),
        )

    @guarded
    def clock(self) -> ClockState:
        snapshot = self.connection.snapshot()
        if snapshot is not None:
            return snapshot["clock"]  # type: ignore[no-any-return]
        return _clock_state(self.connection.redis.hmget(self._key, ["offset", "frozen"]))

    @guarded
    def change_clock(self, change: ClockChange) -> ClockState:
        key = self._key
        result: list[ClockState] = []

        def transact(pipe: Any) -> None:
            offset, frozen = pipe.hmget(key, ["offset", "frozen"])
            state = change(float(offset or 0.0), float(frozen) if frozen else None)
            pipe.multi()
            pipe.hset(key, mapping={"offset": repr(state[0]), "frozen": "" if state[1] is None else repr(state[1])})
            pipe.expire(key, STATE_TTL)
            result[:] = [state]

        # WATCH/MULTI, retried by redis-py when another process changed the clock meanwhile.
        self.connection.redis.transaction(transact, key)
        self.connection.changed()
        return result[0]


def _clock_state(values: list[Any]) -> ClockState:
    offset, frozen = values
    return float(offset or 0.0), (float(frozen) if frozen else None)
