"""OAuth state that changes as browsers and clients go through a flow: authorization
codes (short-lived, single use), the login sessions of the authorization endpoint, and
what each token family was granted. The mock's clock says when each expires."""

from __future__ import annotations

from .._random import token_urlsafe
from .clock import Clock
from .stores import GrantStore
from .stores.grants import CodeRecord, GrantRecord, SessionRecord

# RFC 6749 4.1.2 asks for codes of at most ten minutes; a minute, as Keycloak gives,
# is plenty for a redirect and lets a test expire one with clock.advance(61).
CODE_LIFETIME = 60
# How long a browser stays signed in at the login page (prompt=none works meanwhile).
SESSION_LIFETIME = 3600


class Grants:
    """Codes, sessions and grant records over their store, on the mock's clock."""

    def __init__(self, store: GrantStore, clock: Clock, refresh_lifetime: int) -> None:
        self._store = store
        self._clock = clock
        self._refresh_lifetime = refresh_lifetime

    # -- authorization codes ---------------------------------------------------------

    def new_code(
        self,
        *,
        client_id: str,
        username: str,
        scope: str,
        redirect_uri: str | None,
        nonce: str | None,
        code_challenge: str | None,
        code_challenge_method: str | None,
        auth_time: float,
        family: str,
    ) -> str:
        now = self._clock.now()
        code = token_urlsafe(32)
        record = CodeRecord(
            client_id, username, scope, redirect_uri, nonce, code_challenge,
            code_challenge_method, auth_time, now + CODE_LIFETIME, family,
        )
        self._store.add_code(code, record, now=now)
        return code

    def take_code(self, code: str) -> tuple[str, CodeRecord | None]:
        """Use a code once: ("ok" | "used" | "expired" | "unknown", its record)."""
        return self._store.take_code(code, now=self._clock.now())

    def code_owner(self, code: str) -> str | None:
        record = self._store.peek_code(code)
        return record.username if record else None

    # -- login sessions --------------------------------------------------------------

    def new_session(self, username: str, auth_time: float | None = None) -> str:
        now = self._clock.now()
        session_id = token_urlsafe(32)
        record = SessionRecord(username, now if auth_time is None else auth_time, now + SESSION_LIFETIME)
        self._store.add_session(session_id, record, now=now)
        return session_id

    def session(self, session_id: str) -> SessionRecord | None:
        """The live session of that id (None when unknown, ended or expired)."""
        record = self._store.session(session_id)
        if record is None or record.expires_at <= self._clock.now():
            return None
        return record

    def end_session(self, session_id: str) -> None:
        self._store.remove_session(session_id)

    # -- token families --------------------------------------------------------------

    def record_grant(self, family: str, *, client_id: str, username: str, scope: str, auth_time: float) -> None:
        """Remember what a token family was granted, for its refresh tokens."""
        now = self._clock.now()
        record = GrantRecord(client_id, username, scope, auth_time, now + self._refresh_lifetime)
        self._store.add_grant(family, record, now=now)

    def grant(self, family: str) -> GrantRecord | None:
        return self._store.grant(family)

    def reset(self) -> None:
        self._store.clear()
