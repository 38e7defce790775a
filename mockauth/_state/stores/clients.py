"""Where the OAuth clients live: the fixture clients, and those added at run time."""

from __future__ import annotations

from ..._clients import Client, client_from_mapping
from .records import MemoryRecordStore, RecordStore, RedisRecordStore
from .redis import RedisConnection

ClientStore = RecordStore[Client]


class MemoryClientStore(MemoryRecordStore[Client]):
    def __init__(self) -> None:
        super().__init__(key=_client_id)


class RedisClientStore(RedisRecordStore[Client]):
    """A hash ``clients`` of JSON records and a counter ``clients:version``."""

    def __init__(self, connection: RedisConnection) -> None:
        super().__init__(connection, "clients", _client_id, Client.entry, client_from_mapping)


def _client_id(client: Client) -> str:
    return client.client_id
