"""The admin gate of the control API and dashboard, when an admin token is set (a
server reachable from other machines, or the ``admin_token`` setting)."""

from __future__ import annotations

import hmac

from werkzeug.wrappers import Request, Response

from .http import ApiError

ADMIN_HEADER = "X-Mockauth-Admin-Token"
ADMIN_COOKIE = "mockauth_admin_token"
ADMIN_QUERY = "admin_token"
CONTROL_PREFIX = "/_mockauth"


def admin_gate(request: Request, token: str) -> Response | None:
    """None when the request carries the admin token; otherwise the answer to send.

    The token comes in the ``X-Mockauth-Admin-Token`` header, or in the cookie the
    dashboard sets after it is opened once with ``?admin_token=<token>``.
    """
    expected = token.encode()
    for value in (request.headers.get(ADMIN_HEADER), request.cookies.get(ADMIN_COOKIE)):
        if value is not None and hmac.compare_digest(value.encode(), expected):
            return None
    query = request.args.get(ADMIN_QUERY)
    if (
        query is not None
        and request.method == "GET"
        and hmac.compare_digest(query.encode(), expected)
    ):
        # Trade the token in the address bar for a cookie, so it leaves the URL (and the
        # browser history) at once; SameSite keeps other sites' pages from using it.
        response = Response(
            status=303, headers=[("Location", request.path), ("Cache-Control", "no-store")]
        )
        response.set_cookie(
            ADMIN_COOKIE, token, path=CONTROL_PREFIX, httponly=True, samesite="Strict"
        )
        return response
    given = (request.headers.get(ADMIN_HEADER), request.cookies.get(ADMIN_COOKIE), query)
    described = "missing" if all(value is None for value in given) else "wrong"
    return ApiError(
        401, "admin_token_required",
        f"The control API of this server needs its admin token ({described} here): send the "
        f"{ADMIN_HEADER} header, or open /_mockauth/?{ADMIN_QUERY}=<token> in a browser.",
        [("WWW-Authenticate", 'MockauthAdmin realm="mockauth-control"')],
    ).response()
