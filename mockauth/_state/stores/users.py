"""Where the users live: the fixture users, and those added or changed at run time."""

from __future__ import annotations

from typing import Any

from ..._fixtures import User, user_from_mapping
from .records import MemoryRecordStore, RecordStore, RedisRecordStore
from .redis import RedisConnection

UserStore = RecordStore[User]


class MemoryUserStore(MemoryRecordStore[User]):
    def __init__(self) -> None:
        super().__init__(key=_username)


class RedisUserStore(RedisRecordStore[User]):
    """A hash ``users`` of JSON records and a counter ``users:version``."""

    def __init__(self, connection: RedisConnection) -> None:
        super().__init__(connection, "users", _username, _user_entry, user_from_mapping)


def _username(user: User) -> str:
    return user.username


def _user_entry(user: User) -> dict[str, Any]:
    return user.record()
