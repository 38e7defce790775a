"""Where the armed modes live, with what is left of their ``times`` and their draws.

Counting down ``times`` and numbering a seeded probability's draws are atomic here (a
lock in memory, one Lua script or command in Redis), so every thread and every process
sharing the store counts together.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import json
import threading
from collections.abc import Iterable, Mapping

from ..._modes import Arming, lookup
from .redis import STATE_TTL, RedisConnection, guarded


class ModeStore(abc.ABC):
    @abc.abstractmethod
    def add_arming(self, arming: Arming) -> Arming:
        """Keep `arming` under a new id (returned with it); ids grow, so a later arming has a larger one."""

    @abc.abstractmethod
    def armings(self) -> list[Arming]:
        """The armed modes, oldest first, ``times`` being what is left."""

    @abc.abstractmethod
    def remove_armings(self, ids: Iterable[int]) -> int:
        ...

    @abc.abstractmethod
    def take(self, arming: Arming) -> bool:
        """Count one use of an arming with ``times``: False when another request took the
        last one; the arming is gone once its count reaches zero."""

    @abc.abstractmethod
    def draw_index(self, arming: Arming) -> int:
        """The number of this draw of a seeded probability (1, 2, ...), across every process."""


class MemoryModeStore(ModeStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, Arming] = {}
        self._ids = itertools.count(1)
        self._draws: dict[int, int] = {}

    def add_arming(self, arming: Arming) -> Arming:
        with self._lock:
            arming = dataclasses.replace(arming, id=next(self._ids))
            self._armed[arming.id] = arming
            return arming

    def armings(self) -> list[Arming]:
        return list(self._armed.values()) if self._armed else []

    def remove_armings(self, ids: Iterable[int]) -> int:
        with self._lock:
            removed = 0
            for arming_id in ids:
                if self._armed.pop(arming_id, None) is not None:
                    removed += 1
                self._draws.pop(arming_id, None)
            return removed

    def take(self, arming: Arming) -> bool:
        with self._lock:
            current = self._armed.get(arming.id)
            if current is None or current.times is None or current.times <= 0:
                return False
            if current.times == 1:
                del self._armed[arming.id]
                self._draws.pop(arming.id, None)
            else:
                self._armed[arming.id] = dataclasses.replace(current, times=current.times - 1)
            return True

    def draw_index(self, arming: Arming) -> int:
        with self._lock:
            self._draws[arming.id] = index = self._draws.get(arming.id, 0) + 1
            return index


# Count down `times` (KEYS: modes, times, draws; ARGV: id): 1 if this request took one.
_TAKE = """
local left = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if not left or left <= 0 then return 0 end
if left == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
end
return 1
"""


class RedisModeStore(ModeStore):
    """Hashes by arming id: ``modes`` (the arming as JSON), ``modes:times`` (what is
    left), ``modes:draws`` (draws so far); ``modes:ids`` hands out ids."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        key = connection.key
        self._modes, self._times, self._draws, self._ids = (
            key("modes"), key("modes:times"), key("modes:draws"), key("modes:ids"),
        )
        connection.state_keys += [self._modes, self._times, self._draws, self._ids]
        connection.snapshot_part(
            "armings",
            lambda pipe: (pipe.hgetall(self._modes), pipe.hgetall(self._times)),
            2,
            lambda replies: _armings_of(replies[0], replies[1]),
        )
        self._take = connection.redis.register_script(_TAKE)

    @guarded
    def add_arming(self, arming: Arming) -> Arming:
        redis = self.connection.redis
        self.connection.changed()
        arming = dataclasses.replace(arming, id=int(redis.incr(self._ids)))
        with redis.pipeline() as pipe:
            pipe.hset(self._modes, str(arming.id), _arming_json(arming))
            if arming.times is not None:
                pipe.hset(self._times, str(arming.id), arming.times)
            for name in (self._modes, self._times, self._ids):
                pipe.expire(name, STATE_TTL)
            pipe.execute()
        return arming

    @guarded
    def armings(self) -> list[Arming]:
        snapshot = self.connection.snapshot()
        if snapshot is not None:
            return snapshot["armings"]  # type: ignore[no-any-return]
        with self.connection.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._modes)
            pipe.hgetall(self._times)
            modes, times = pipe.execute()
        return _armings_of(modes, times)

    @guarded
    def remove_armings(self, ids: Iterable[int]) -> int:
        fields = [str(arming_id) for arming_id in ids]
        if not fields:
            return 0
        self.connection.changed()
        with self.connection.redis.pipeline() as pipe:
            pipe.hdel(self._modes, *fields)
            pipe.hdel(self._times, *fields)
            pipe.hdel(self._draws, *fields)
            return int(pipe.execute()[0])

    @guarded
    def take(self, arming: Arming) -> bool:
        self.connection.changed()
        return bool(self._take(keys=[self._modes, self._times, self._draws], args=[str(arming.id)]))

    @guarded
    def draw_index(self, arming: Arming) -> int:
        with self.connection.redis.pipeline() as pipe:
            pipe.hincrby(self._draws, str(arming.id), 1)
            pipe.expire(self._draws, STATE_TTL)
            return int(pipe.execute()[0])


def _armings_of(modes: Mapping[str, str], times: Mapping[str, str]) -> list[Arming]:
    armings = []
    for arming_id, text in sorted(modes.items(), key=lambda item: int(item[0])):
        values = json.loads(text)
        left = values["times"]
        if left is not None:
            left = int(times.get(arming_id, 0))
            if left <= 0:
                continue  # its last use was just taken
        armings.append(Arming(
            int(arming_id), lookup(values["name"]), values["options"], values["operation"],
            values["user"], left, values["probability"], values["seed"], values["source"],
        ))
    return armings


def _arming_json(arming: Arming) -> str:
    return json.dumps({
        "name": arming.mode.name,
        "options": arming.options,
        "operation": arming.operation,
        "user": arming.user,
        "times": arming.times,
        "probability": arming.probability,
        "seed": arming.seed,
        "source": arming.source,
    })
