"""The users the mock knows at run time: the fixture users, plus those added, changed or
removed since, with the error mode a user carries kept armed alongside."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import ConfigError, UnknownUserError
from .._fixtures import User, index_users, user_arming, user_from_mapping
from .board import ModeBoard
from .stores import UserStore

# Users added at run time (control API, add_user) beyond the fixture users: enough for
# any test, and a bound on what a client of the control API can make the mock hold.
MAX_ADDED = 1000


class Users:
    """The user directory: look up by username or email, add, change, remove, reset."""

    def __init__(self, store: UserStore, modes: ModeBoard, fixture_users: Iterable[User] = ()) -> None:
        self._store = store
        self._modes = modes
        self.fixture_users = tuple(fixture_users)
        self._lock = threading.Lock()
        self._login_index: tuple[Mapping[str, User], dict[str, User]] = ({}, {})

    def all(self) -> Mapping[str, User]:
        """The users by username (fixture users and those added at run time)."""
        return self._store.records()

    def find(self, login: str) -> User | None:
        """The user with this username or email."""
        users = self._store.records()
        indexed, index = self._login_index
        if indexed is not users:  # the store hands out a new mapping whenever users change
            index = index_users(users.values())
            self._login_index = (users, index)
        return index.get(login)

    def get(self, username: str) -> User:
        users = self._store.records()
        try:
            return users[username]
        except KeyError:
            raise UnknownUserError(f"no user {username!r} (users: {', '.join(users) or 'none'})") from None

    def add(self, user: User) -> User:
        """Add a user (or replace the one with its username, its mode with it) until the
        next reset; ConfigError past MAX_ADDED users beyond the fixture users."""
        with self._lock:
            users = self._store.records()
            if user.username not in users and len(users) >= len(self.fixture_users) + MAX_ADDED:
                raise ConfigError(
                    f"user {user.username!r}: the mock holds {len(users)} users already, "
                    f"{MAX_ADDED} more than its fixtures; remove some or reset"
                )
            self._store.put(user)
            self._modes.disarm_user_fixture(user.username)
            self._arm_mode(user)
        return user

    def update(self, username: str, **changes: Any) -> User:
        with self._lock:
            old = self.get(username)
            values = {**old.record(), **changes}
            try:
                user = user_from_mapping(values)
            except ConfigError as error:
                raise ConfigError(f"user {username!r}: {error}") from None
            self._store.put(user)
            self._modes.disarm_user_fixture(username)
            self._arm_mode(user)
        return user

    def remove(self, username: str) -> None:
        with self._lock:
            self.get(username)
            self._store.remove(username)
            self._modes.disarm_user_fixture(username)

    def replace_fixtures(self, users: Iterable[User]) -> None:
        """Swap in new fixture users (hot reload); tokens, modes and clock are kept."""
        with self._lock:
            self.fixture_users = tuple(users)
            for username in self.all():
                self._modes.disarm_user_fixture(username)
            self._store.replace(self.fixture_users)
            for user in self.fixture_users:
                self._arm_mode(user)

    def reset(self) -> None:
        """Back to the fixture users, with no armed modes but the users' own."""
        with self._lock:
            self._modes.disarm()
            self._store.replace(self.fixture_users)
            for user in self.fixture_users:
                self._arm_mode(user)

    def _arm_mode(self, user: User) -> None:
        if user.mode:
            self._modes.add(user_arming(user.mode, user.username))
