"""A store of records by key (users by username, clients by client_id), in memory or in
Redis, read far more often than changed."""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from .redis import STATE_TTL, RedisConnection, guarded

R = TypeVar("R")


class RecordStore(abc.ABC, Generic[R]):
    @abc.abstractmethod
    def records(self) -> Mapping[str, R]:
        """The records by key; the same object until they change (readers may cache by identity)."""

    @abc.abstractmethod
    def put(self, record: R) -> None:
        """Add a record, or replace the one with its key."""

    @abc.abstractmethod
    def remove(self, key: str) -> bool:
        ...

    @abc.abstractmethod
    def replace(self, records: Iterable[R]) -> None:
        """Swap every record for `records`."""


class MemoryRecordStore(RecordStore[R]):
    """A dict copied on write, never mutated: readers hold no lock."""

    def __init__(self, key: Callable[[R], str]) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._records: dict[str, R] = {}

    def records(self) -> Mapping[str, R]:
        return self._records

    def put(self, record: R) -> None:
        with self._lock:
            self._records = {**self._records, self._key(record): record}

    def remove(self, key: str) -> bool:
        with self._lock:
            found = key in self._records
            self._records = {k: v for k, v in self._records.items() if k != key}
            return found

    def replace(self, records: Iterable[R]) -> None:
        with self._lock:
            self._records = {self._key(record): record for record in records}


class RedisRecordStore(RecordStore[R]):
    """A hash ``<name>`` of JSON records and a counter ``<name>:version``: a process reads
    the hash again only when the version moved."""

    def __init__(
        self,
        connection: RedisConnection,
        name: str,
        key: Callable[[R], str],
        dump: Callable[[R], Mapping[str, Any]],
        load: Callable[[Any], R],
    ) -> None:
        self.connection = connection
        self._record_key, self._dump, self._load = key, dump, load
        self._hash = connection.key(name)
        self._version = connection.key(name + ":version")
        self._part = name + "_version"
        connection.state_keys += [self._hash, self._version]
        connection.snapshot_part(self._part, lambda pipe: pipe.get(self._version), 1, lambda r: r[0])
        self._cache: tuple[str | None, Mapping[str, R]] = ("", {})

    @guarded
    def records(self) -> Mapping[str, R]:
        redis = self.connection.redis
        snapshot = self.connection.snapshot()
        version = snapshot[self._part] if snapshot is not None else redis.get(self._version)
        cached_version, cached = self._cache
        if version == cached_version:
            return cached
        with redis.pipeline() as pipe:
            pipe.hgetall(self._hash)
            pipe.get(self._version)
            raw, version = pipe.execute()
        records = {key: self._load(json.loads(text)) for key, text in raw.items()}
        self._cache = (version, records)
        return records

    def _change(self, *commands: Callable[[Any], Any]) -> list[Any]:
        self.connection.changed()
        with self.connection.redis.pipeline() as pipe:  # MULTI/EXEC: every process sees all or nothing
            for command in commands:
                command(pipe)
            pipe.incr(self._version)
            pipe.expire(self._hash, STATE_TTL)
            pipe.expire(self._version, STATE_TTL)
            return list(pipe.execute())

    def _json(self, record: R) -> str:
        return json.dumps(self._dump(record))

    @guarded
    def put(self, record: R) -> None:
        self._change(lambda pipe: pipe.hset(self._hash, self._record_key(record), self._json(record)))

    @guarded
    def remove(self, key: str) -> bool:
        return bool(self._change(lambda pipe: pipe.hdel(self._hash, key))[0])

    @guarded
    def replace(self, records: Iterable[R]) -> None:
        mapping = {self._record_key(record): self._json(record) for record in records}
        commands: list[Callable[[Any], Any]] = [lambda pipe: pipe.delete(self._hash)]
        if mapping:
            commands.append(lambda pipe: pipe.hset(self._hash, mapping=mapping))
        self._change(*commands)
