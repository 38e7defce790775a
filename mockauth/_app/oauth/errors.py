"""OAuth 2.0 errors (RFC 6749 4.1.2.1 and 5.2, OpenID Connect Core 3.1.2.6), one class
per error code, each carrying its status.

Handlers raise them; how they reach the client (a JSON body, a redirect back to the
client, a page in the browser) is the endpoint's ``shape``.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.wrappers import Response

from ..http import ApiError


class OAuthError(ApiError):
    """An error with an RFC error code; ``status`` and ``error`` come from the class."""

    status = 400
    error = "invalid_request"

    def __init__(self, description: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(type(self).status, type(self).error, description, headers)


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed: 401 with a Basic challenge (RFC 6749 5.2)."""

    status = 401
    error = "invalid_client"

    def __init__(self, description: str) -> None:
        super().__init__(description, [("WWW-Authenticate", 'Basic realm="mockauth"')])


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class LoginRequired(OAuthError):
    error = "login_required"


class RequestNotSupported(OAuthError):
    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    error = "request_uri_not_supported"


class InsufficientScope(OAuthError):
    """RFC 6750 3.1: the token lacks a scope the resource needs."""

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str) -> None:
        challenge = f'Bearer realm="mockauth", error="insufficient_scope", error_description="{description}"'
        super().__init__(description, [("WWW-Authenticate", challenge)])


# How the mock's credential modes (and the seed API's own token errors) read at the
# token endpoint: RFC 6749 5.2 has one code for a grant that is refused, whatever the
# reason, and keeps the reason in the description.
GRANT_REFUSALS = frozenset(
    {"invalid_credentials", "account_locked", "account_disabled", "invalid_token", "token_expired"}
)


class Answer(ApiError):
    """An error whose answer is already built: a page for the browser, or a redirect."""

    def __init__(self, status: int, error: str, description: str, answer: Response) -> None:
        super().__init__(status, error, description)
        self.answer = answer

    def response(self) -> Response:
        return self.answer
