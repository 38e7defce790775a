"""The OAuth clients the mock knows at run time: the fixture clients, plus those added or
removed since."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from .._clients import Client
from .._errors import UnknownClientError
from .stores import ClientStore


class Clients:
    """The client directory: look up, add, remove, reset to the fixtures."""

    def __init__(self, store: ClientStore, fixture_clients: Iterable[Client] = ()) -> None:
        self._store = store
        self.fixture_clients = tuple(fixture_clients)
        self._lock = threading.Lock()

    def all(self) -> Mapping[str, Client]:
        return self._store.records()

    def find(self, client_id: str) -> Client | None:
        return self._store.records().get(client_id)

    def get(self, client_id: str) -> Client:
        clients = self._store.records()
        try:
            return clients[client_id]
        except KeyError:
            known = ", ".join(clients) or "none"
            raise UnknownClientError(f"no client {client_id!r} (clients: {known})") from None

    def add(self, client: Client) -> Client:
        """Add a client (or replace the one with its client_id) until the next reset."""
        self._store.put(client)
        return client

    def remove(self, client_id: str) -> None:
        with self._lock:
            self.get(client_id)
            self._store.remove(client_id)

    def replace_fixtures(self, clients: Iterable[Client]) -> None:
        """Swap in new fixture clients (hot reload)."""
        with self._lock:
            self.fixture_clients = tuple(clients)
            self._store.replace(self.fixture_clients)

    def reset(self) -> None:
        self._store.replace(self.fixture_clients)
