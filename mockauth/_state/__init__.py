"""The mock's state: clock, users, OAuth clients and grants, armed modes, tokens, login
challenges and journal, over its stores.

``State`` is what the app is given: everything a request may read or change, and no
knowledge of how the mock is served or which object built it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._clients import Client
from .._errors import ConfigError
from .._fixtures import User
from .._settings import DEFAULT_ISSUER, Settings
from .._values import check_json, describe, is_whole
from .board import ModeBoard
from .challenges import Challenges
from .clients import Clients
from .clock import Clock
from .grants import Grants
from .journal import Journal
from .stores import Stores
from .tokens import Tokens
from .users import Users

# A minted token's lifetime, either way: about 30 years.
MAX_LIFETIME = 10**9


def check_lifetime(expires_in: Any) -> None:
    """ConfigError unless `expires_in` is None (the default lifetime) or a whole number of
    seconds a token can carry."""
    if expires_in is not None and not (is_whole(expires_in) and abs(expires_in) <= MAX_LIFETIME):
        raise ConfigError(
            f"expires_in: must be a whole number of seconds from -{MAX_LIFETIME} to "
            f"{MAX_LIFETIME}, got {describe(expires_in)}"
        )


class State:
    """One mock's state, built over `stores` (which ``MockAuth`` opened)."""

    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        fixture_users: Iterable[User] = (),
        fixture_clients: Iterable[Client] = (),
    ) -> None:
        self.settings = settings
        self.stores = stores
        self.clock = Clock(stores.clock)
        self.modes = ModeBoard(stores.modes)
        self.users = Users(stores.users, self.modes, fixture_users)
        self.clients = Clients(stores.clients, fixture_clients)
        self.tokens = Tokens(
            settings, self.clock, stores.tokens, issuers=lambda issuer: self.issuer_accepted(issuer, None)
        )
        self.grants = Grants(stores.grants, self.clock, settings.refresh_token_lifetime)
        self.challenges = Challenges(settings, self.clock, self.users, stores.challenges)
        self.journal = Journal(stores.journal)
        # Why the last fixture reload failed, shown on the dashboard until it succeeds.
        self.fixture_error: str | None = None

    def issue_token(
        self, username: str, *, expires_in: int | None = None, issuer: str | None = None, **claims: Any
    ) -> str:
        """A signed access token for a known user, as login would issue it; ConfigError
        for a lifetime or claims a token cannot carry."""
        check_lifetime(expires_in)
        try:
            check_json(claims)
        except ValueError as error:
            raise ConfigError(f"claims: {error}") from None
        token, _ = self.tokens.access_token(
            self.users.get(username), expires_in=expires_in, claims=claims, issuer=issuer
        )
        return token

    # -- issuers ---------------------------------------------------------------------

    def issuer(self, request_issuer: str | None) -> str:
        """The issuer of tokens issued to a request that reached the mock at
        `request_issuer` (its base URL): the configured issuer or public URL, or else
        that URL, remembered so that tokens verify whichever URL they come back through."""
        fixed = self.settings.issuer or self.settings.public_url
        if fixed:
            return fixed
        if request_issuer is None:
            return DEFAULT_ISSUER
        self.stores.grants.remember_issuer(request_issuer)
        return request_issuer

    def issuer_accepted(self, issuer: str, request_issuer: str | None) -> bool:
        """Whether a token's ``iss`` is this mock's, for a request at `request_issuer`."""
        fixed = self.settings.issuer or self.settings.public_url
        if fixed:
            return issuer == fixed
        if issuer in (request_issuer, DEFAULT_ISSUER):
            return True
        return issuer in self.stores.grants.issuers()

    def reset(self) -> None:
        """Back to the fixture state: users and clients, no armed modes but the users'
        own, a running wall clock, no tokens, challenges, codes or sessions, an empty journal."""
        self.users.reset()
        self.clients.reset()
        self.clock.reset()
        self.tokens.reset()
        self.grants.reset()
        self.challenges.reset()
        self.journal.clear()

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings.public(),
            "users": [user.public() for user in self.users.all().values()],
            "clients": [client.describe() for client in self.clients.all().values()],
            "modes": [arming.as_dict() for arming in self.modes.armed()],
            "clock": self.clock.as_dict(),
            "journal_total": self.journal.total,
            "fixture_error": self.fixture_error,
        }
