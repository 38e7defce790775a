"""The trivial baseline: form parse, password check and an HS256 JWT, nothing else.

Every serving door of mockauth is measured against this app on the same server, in the
same run, so the ratio is what mockauth's own logic costs.

    python bench/trivial_app.py PORT          # Werkzeug's threaded dev server
    granian --interface wsgi trivial_app:app  # or gunicorn trivial_app:app
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from werkzeug.wrappers import Request, Response

SECRET = b"mockauth-default-secret-not-for-production-use"
USERS = {"user@example.com": b"secretpassword"}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    request = Request(environ)
    username = request.form.get("username", "")
    password = request.form.get("password", "").encode()
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(password, expected):
        response = Response('{"error":"invalid_credentials"}', 401, content_type="application/json")
        return response(environ, start_response)
    now = int(time.time())
    claims = {"sub": username, "iat": now, "exp": now + 900, "jti": secrets.token_urlsafe(16)}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    body = json.dumps({"access_token": token, "token_type": "bearer", "expires_in": 900})
    response = Response(body, 200, content_type="application/json")
    return response(environ, start_response)


if __name__ == "__main__":
    from werkzeug.serving import WSGIRequestHandler, run_simple

    class _Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any) -> None:
            pass

    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True, request_handler=_Quiet)
