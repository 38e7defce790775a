"""Where the journal's entries live: a capped list, newest last, and a running total."""

from __future__ import annotations

import abc
import itertools
import json
import threading
from collections import deque
from typing import Any

from .redis import STATE_TTL, RedisConnection, guarded

JournalRecord = tuple[int, dict[str, Any]]


class JournalStore(abc.ABC):
    @abc.abstractmethod
    def add_entry(self, values: dict[str, Any]) -> int:
        """Keep one entry; returns its id."""

    @abc.abstractmethod
    def entries(self) -> list[JournalRecord]:
        ...

    @abc.abstractmethod
    def total(self) -> int:
        """Entries added since the last clear, dropped ones too."""

    @abc.abstractmethod
    def length(self) -> int:
        ...

    @abc.abstractmethod
    def clear(self) -> None:
        ...

    @abc.abstractmethod
    def resize(self, size: int) -> None:
        ...


class MemoryJournalStore(JournalStore):
    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._journal: deque[JournalRecord] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._total = 0

    def add_entry(self, values: dict[str, Any]) -> int:
        with self._lock:
            entry_id = next(self._ids)
            self._journal.append((entry_id, values))
            self._total += 1
            return entry_id

    def entries(self) -> list[JournalRecord]:
        with self._lock:
            return list(self._journal)

    def total(self) -> int:
        return self._total

    def length(self) -> int:
        return len(self._journal)

    def clear(self) -> None:
        with self._lock:
            self._journal.clear()
            self._total = 0

    def resize(self, size: int) -> None:
        with self._lock:
            self._journal = deque(self._journal, maxlen=size)


# Append to the capped journal (KEYS: list, ids, total; ARGV: values JSON, size, TTL).
_APPEND = """
local id = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], id .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('INCR', KEYS[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return id
"""


class RedisJournalStore(JournalStore):
    """A list ``journal`` of "id JSON" lines, trimmed to the size on every append."""

    def __init__(self, connection: RedisConnection, size: int) -> None:
        self.connection = connection
        self._size = size
        self._keys = [connection.key("journal"), connection.key("journal:ids"), connection.key("journal:total")]
        connection.state_keys += self._keys
        self._append = connection.redis.register_script(_APPEND)

    @guarded
    def add_entry(self, values: dict[str, Any]) -> int:
        return int(self._append(keys=self._keys, args=[json.dumps(values), self._size, STATE_TTL]))

    @guarded
    def entries(self) -> list[JournalRecord]:
        records = []
        for line in self.connection.redis.lrange(self._keys[0], 0, -1):
            entry_id, _, text = str(line).partition(" ")
            values = json.loads(text)
            values["modes"] = tuple(values["modes"])
            records.append((int(entry_id), values))
        return records

    @guarded
    def total(self) -> int:
        return int(self.connection.redis.get(self._keys[2]) or 0)

    @guarded
    def length(self) -> int:
        return int(self.connection.redis.llen(self._keys[0]))

    @guarded
    def clear(self) -> None:
        self.connection.redis.delete(self._keys[0], self._keys[2])

    @guarded
    def resize(self, size: int) -> None:
        self._size = size
        self.connection.redis.ltrim(self._keys[0], -size, -1)
