"""Where the users live: the fixture users, and those added or changed at run time."""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..._fixtures import User, user_from_mapping
from .redis import STATE_TTL, RedisConnection, guarded


class UserStore(abc.ABC):
    @abc.abstractmethod
    def users(self) -> Mapping[str, User]:
        """The users by username; the same object until they change (readers may cache by identity)."""

    @abc.abstractmethod
    def put_user(self, user: User) -> None:
        ...

    @abc.abstractmethod
    def remove_user(self, username: str) -> bool:
        ...

    @abc.abstractmethod
    def replace_users(self, users: Iterable[User]) -> None:
        ...


class MemoryUserStore(UserStore):
    """A dict copied on write, never mutated: readers hold no lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}

    def users(self) -> Mapping[str, User]:
        return self._users

    def put_user(self, user: User) -> None:
        with self._lock:
            self._users = {**self._users, user.username: user}

    def remove_user(self, username: str) -> bool:
        with self._lock:
            found = username in self._users
            self._users = {k: v for k, v in self._users.items() if k != username}
            return found

    def replace_users(self, users: Iterable[User]) -> None:
        with self._lock:
            self._users = {user.username: user for user in users}


class RedisUserStore(UserStore):
    """A hash ``users`` of JSON records and a counter ``users:version``: a process reads
    the hash again only when the version moved."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._hash = connection.key("users")
        self._version = connection.key("users:version")
        connection.state_keys += [self._hash, self._version]
        connection.snapshot_part("users_version", lambda pipe: pipe.get(self._version), 1, lambda r: r[0])
        self._cache: tuple[str | None, Mapping[str, User]] = ("", {})

    @guarded
    def users(self) -> Mapping[str, User]:
        redis = self.connection.redis
        snapshot = self.connection.snapshot()
        version = snapshot["users_version"] if snapshot is not None else redis.get(self._version)
        cached_version, cached = self._cache
        if version == cached_version:
            return cached
        with redis.pipeline() as pipe:
            pipe.hgetall(self._hash)
            pipe.get(self._version)
            raw, version = pipe.execute()
        users = {name: user_from_mapping(json.loads(text)) for name, text in raw.items()}
        self._cache = (version, users)
        return users

    def _change(self, *commands: Callable[[Any], Any]) -> list[Any]:
        self.connection.changed()
        with self.connection.redis.pipeline() as pipe:  # MULTI/EXEC: every process sees all or nothing
            for command in commands:
                command(pipe)
            pipe.incr(self._version)
            pipe.expire(self._hash, STATE_TTL)
            pipe.expire(self._version, STATE_TTL)
            return list(pipe.execute())

    @guarded
    def put_user(self, user: User) -> None:
        self._change(lambda pipe: pipe.hset(self._hash, user.username, _user_json(user)))

    @guarded
    def remove_user(self, username: str) -> bool:
        return bool(self._change(lambda pipe: pipe.hdel(self._hash, username))[0])

    @guarded
    def replace_users(self, users: Iterable[User]) -> None:
        mapping = {user.username: _user_json(user) for user in users}
        commands: list[Callable[[Any], Any]] = [lambda pipe: pipe.delete(self._hash)]
        if mapping:
            commands.append(lambda pipe: pipe.hset(self._hash, mapping=mapping))
        self._change(*commands)


def _user_json(user: User) -> str:
    return json.dumps(user.record())
