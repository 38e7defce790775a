"""The mock's state: clock, users, armed modes, tokens, login challenges and journal,
over its stores.

``State`` is what the app is given: everything a request may read or change, and no
knowledge of how the mock is served or which object built it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._errors import ConfigError
from .._fixtures import User
from .._settings import Settings
from .._values import check_json, describe, is_whole
from .board import ModeBoard
from .challenges import Challenges
from .clock import Clock
from .journal import Journal
from .stores import Stores
from .tokens import Tokens
from .users import Users

# A minted token's lifetime, either way: about 30 years.
MAX_LIFETIME = 10**9


class State:
    """One mock's state, built over `stores` (which ``MockAuth`` opened)."""

    def __init__(self, settings: Settings, stores: Stores, fixture_users: Iterable[User] = ()) -> None:
        self.settings = settings
        self.stores = stores
        self.clock = Clock(stores.clock)
        self.modes = ModeBoard(stores.modes)
        self.users = Users(stores.users, self.modes, fixture_users)
        self.tokens = Tokens(settings, self.clock, stores.tokens)
        self.challenges = Challenges(settings, self.clock, self.users, stores.challenges)
        self.journal = Journal(stores.journal)
        # Why the last fixture reload failed, shown on the dashboard until it succeeds.
        self.fixture_error: str | None = None

    def issue_token(self, username: str, *, expires_in: int | None = None, **claims: Any) -> str:
        """A signed access token for a known user, as login would issue it; ConfigError
        for a lifetime or claims a token cannot carry."""
        if expires_in is not None and not (is_whole(expires_in) and abs(expires_in) <= MAX_LIFETIME):
            raise ConfigError(
                f"expires_in: must be a whole number of seconds from -{MAX_LIFETIME} to "
                f"{MAX_LIFETIME}, got {describe(expires_in)}"
            )
        try:
            check_json(claims)
        except ValueError as error:
            raise ConfigError(f"claims: {error}") from None
        token, _ = self.tokens.access_token(self.users.get(username), expires_in=expires_in, claims=claims)
        return token

    def reset(self) -> None:
        """Back to the fixture state: users, no armed modes but the users' own, a running
        wall clock, no tokens or challenges, an empty journal."""
        self.users.reset()
        self.clock.reset()
        self.tokens.reset()
        self.challenges.reset()
        self.journal.clear()

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings.public(),
            "users": [user.public() for user in self.users.all().values()],
            "modes": [arming.as_dict() for arming in self.modes.armed()],
            "clock": self.clock.as_dict(),
            "journal_total": self.journal.total,
            "fixture_error": self.fixture_error,
        }
