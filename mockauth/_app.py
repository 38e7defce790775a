"""The WSGI app: route -> operation -> handler, with modes, the journal and the control API.

The app never knows how it is served: the live server, ``responses``, the Werkzeug test
client and httpx all call the same ``App.__call__``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from . import _cors, _modes
from ._errors import (
    ConfigError,
    Disconnected,
    MockAuthError,
    ModeError,
    SpecError,
    StoreUnavailable,
    UnknownUserError,
)
from ._http import (
    ApiError,
    bad_request,
    bearer_token,
    is_number,
    is_whole,
    json_response,
    parse_body,
    required_strings,
    www_authenticate,
)
from ._journal import REDACTED, SECRET_FIELDS, redact
from ._modes import API_OPERATIONS, Applied, Selection
from ._tokens import TokenError, decode_unverified, unverified_subject
from ._users import User, user_from_mapping

if TYPE_CHECKING:
    from werkzeug.routing import Map

    from ._core import MockAuth

BEARER_OPERATIONS = frozenset({"me", "logout"})
# Control calls that change nothing a worker keeps (the signing key is shared by all).
STATELESS_CONTROL = frozenset({"control_issue_token", "control_decode_token"})
# Compared against when the username is unknown, so both answers take the same time.
_NO_SUCH_PASSWORD = b"mockauth: no such user, compared only to spend the same time"
_MALFORMED_TAIL = b'{"status":"ok"'

Handler = Callable[["App", "Call"], Response]


class Call:
    """One request on its way through the app."""

    def __init__(self, request: Request, operation: str, args: dict[str, Any]) -> None:
        self.request = request
        self.operation = operation
        self.args = args
        self.params: dict[str, Any] = {}
        self.user: str | None = None  # whose request this is, for per-user modes and the journal
        self.selection: Selection = _modes.NOTHING


class App:
    """The mock as a WSGI application."""

    def __init__(self, auth: MockAuth) -> None:
        self.auth = auth
        # Built on the first request with a path variable: werkzeug.routing and what it
        # imports (difflib, uuid, platform) are a tenth of `mockauth serve`'s start-up,
        # and logins never need them (static_routes below).
        self._url_map: Map | None = None
        # Paths without variables are found with one dict lookup; Werkzeug's matcher
        # (a third of the app's own time on a login) runs only for the rest.
        self.static_routes: dict[tuple[str, str | None], str] = {
            (op.method, op.path): op.operation_id
            for op in auth.spec.operations if "{" not in op.path
        }
        self.control_operations = frozenset(
            op.operation_id for op in auth.spec.operations if op.control
        )
        missing = {op.operation_id for op in auth.spec.operations} - set(HANDLERS)
        if missing:
            raise SpecError(
                f"{auth.spec.path}: operations with no handler in mockauth: {', '.join(sorted(missing))}"
            )
        # Set by serve() on a non-loopback address, or by the admin_token setting.
        self.admin_token: str | None = auth.settings.admin_token
        self.refused_operations: frozenset[str] = frozenset()
        self.refusal = ""
        self.errors: list[BaseException] = []  # bugs raised while serving, for check()
        self._refused_origins: set[str] = set()
        self._errors_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request(environ)
        store = self.auth.store
        store.begin()  # a shared store reads the clock, users and modes once per request
        try:
            if request.method == "OPTIONS":
                # Before routing: a browser's preflight names no operation, only a path.
                response = self.options(request)
                if not request.path.startswith("/_mockauth"):
                    error = response.headers.get("X-Mockauth-Error")
                    self._journal(request, None, response.status_code, error, started)
                response.headers.pop("X-Mockauth-Error", None)
                return response(environ, start_response)
            call, response = self.dispatch(request, started)
            if call is None or call.operation not in self.control_operations:
                error = response.headers.get("X-Mockauth-Error")
                self._journal(request, call, response.status_code, error, started)
        finally:
            store.end()
        response.headers.pop("X-Mockauth-Error", None)
        self.cors(request, response)
        return response(environ, start_response)

    @property
    def url_map(self) -> Map:
        if self._url_map is None:
            self._url_map = self.auth.spec.url_map()  # two threads may both build it: same map
        return self._url_map

    def refuse_state_changes(self, description: str) -> None:
        """Answer 409 ``per_worker_state`` to every control-API call that changes state.

        For several worker processes: such a call would reach one worker of many and
        leave the others as they were. Reads, issuing and decoding tokens still answer.
        """
        self.refused_operations = frozenset(
            op.operation_id for op in self.auth.spec.operations
            if op.control and op.method not in ("GET", "HEAD")
            and op.operation_id not in STATELESS_CONTROL
        )
        self.refusal = description

    def cors(self, request: Request, response: Response) -> None:
        """CORS headers on any answer to an allowed browser origin; none for the others."""
        origin = request.headers.get("Origin")
        if origin is None:
            return
        if _cors.allowed(origin, self.auth.settings.cors_origins):
            _cors.add_headers(response.headers, origin)
        else:
            self._refused(origin)

    def options(self, request: Request) -> Response:
        """OPTIONS on any route: 204 with Allow, and a CORS preflight answer for an
        allowed origin; a preflight from any other origin is refused with 403."""
        adapter = self.url_map.bind_to_environ(request.environ)
        # The routes accept a missing trailing slash for GET and the like; OPTIONS too.
        found = adapter.allowed_methods() or adapter.allowed_methods(request.path.rstrip("/") + "/")
        methods = sorted({*found, "OPTIONS"})
        if methods == ["OPTIONS"]:
            return _tagged(ApiError(
                404, "not_found", f"There is no {request.path} on this server."
            ).response(), "not_found")
        response = Response(status=204, headers=[("Allow", ", ".join(methods))])
        del response.headers["Content-Type"]  # a 204 has no body to describe
        origin = request.headers.get("Origin")
        if origin is None:
            return response
        if not _cors.allowed(origin, self.auth.settings.cors_origins):
            self._refused(origin)
            if request.headers.get("Access-Control-Request-Method") is None:
                return response
            return _tagged(ApiError(
                403, "origin_not_allowed",
                f"The origin {origin} may not call this server from a browser; start mockauth "
                f"with --cors-origins {origin} (allowed now: "
                f"{', '.join(self.auth.settings.cors_origins) or 'none'}).",
                [("Allow", ", ".join(methods))],
            ).response(), "origin_not_allowed")
        if request.headers.get("Access-Control-Request-Method") is None:
            _cors.add_headers(response.headers, origin)
        else:
            _cors.preflight_headers(
                response.headers, origin, methods,
                request.headers.get("Access-Control-Request-Headers"),
                request.headers.get("Access-Control-Request-Private-Network") == "true",
            )
        return response

    def _refused(self, origin: str) -> None:
        # One line per origin: enough to explain a browser's CORS error, not a flood.
        if origin not in self._refused_origins:
            self._refused_origins.add(origin)
            self.auth.log(
                f"refused the browser origin {origin} (not in cors_origins); "
                f"allow it with --cors-origins {origin}"
            )

    def dispatch(self, request: Request, started: float) -> tuple[Call | None, Response]:
        environ = request.environ
        static = self.static_routes.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO")))
        if static is not None:
            return self._dispatch_call(request, Call(request, static, {}), started)
        from werkzeug.routing import RequestRedirect

        adapter = self.url_map.bind_to_environ(environ)
        try:
            operation, args = adapter.match()
        except MethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or ()))
            return None, _tagged(ApiError(
                405, "method_not_allowed",
                f"{request.method} is not allowed on {request.path}; allowed: {allowed}.",
                [("Allow", allowed)],
            ).response(), "method_not_allowed")
        except (NotFound, RequestRedirect):
            return None, _tagged(ApiError(
                404, "not_found", f"There is no {request.path} on this server."
            ).response(), "not_found")
        return self._dispatch_call(request, Call(request, str(operation), dict(args)), started)

    def _dispatch_call(
        self, request: Request, call: Call, started: float
    ) -> tuple[Call, Response]:
        # Here, not in dispatch(): static routes (most of the control API) skip the matcher.
        if self.admin_token is not None and call.operation in self.control_operations:
            from ._exposure import admin_gate

            refusal = admin_gate(request, self.admin_token)
            if refusal is not None:
                return call, refusal
        try:
            response = self.handle(call)
        except ApiError as error:
            response = _tagged(error.response(), error.error)
        except StoreUnavailable as error:
            # Redis is down: an answer clients know how to retry, not a bug (the store
            # logs the outage once).
            response = _tagged(ApiError(
                503, "temporarily_unavailable", str(error), [("Retry-After", "1")]
            ).response(), "temporarily_unavailable")
        except Disconnected:
            self._journal(request, call, 0, "disconnect", started)
            raise
        except Exception as error:  # a bug: answer JSON, and keep it for check()
            with self._errors_lock:
                self.errors.append(error)
            report = f"error: {call.operation}: {error!r}\n{traceback.format_exc()}"
            self.auth.log(_scrub(report, call))
            response = _tagged(ApiError(
                500, "server_error",
                f"mockauth failed on {request.method} {request.path}: {type(error).__name__}. "
                "This is a bug in mockauth, not a mode; please report it.",
            ).response(), "server_error")
        return call, response

    def handle(self, call: Call) -> Response:
        handler = HANDLERS[call.operation]
        if call.operation not in API_OPERATIONS:
            if call.operation in self.refused_operations:
                raise ApiError(409, "per_worker_state", self.refusal)
            return handler(self, call)
        subject = SUBJECTS.get(call.operation)
        if subject is not None:
            call.user = subject(self, call)
        header = call.request.headers.get("X-Mockauth-Mode") if self.auth.settings.mode_header else None
        try:
            requested = _modes.parse_header(header) if header else []
        except ModeError as error:
            raise bad_request(f"X-Mockauth-Mode: {error}") from None
        call.selection = self.auth.modes.select(call.operation, call.user, requested)
        if call.selection.delay is not None:
            time.sleep(call.selection.delay.options["delay"])
        failure = call.selection.failure
        if failure is None:
            return handler(self, call)
        return self.fail(call, failure, handler)

    def fail(self, call: Call, applied: Applied, handler: Handler) -> Response:
        """Answer as the failing mode says."""
        mode = applied.mode
        if mode.effect == "disconnect":
            environ = call.request.environ
            sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
            if isinstance(sock, socket.socket):
                # A live server: close the connection under its feet; Werkzeug and
                # gunicorn take the ConnectionError below as a client that went away.
                sock.shutdown(socket.SHUT_RDWR)
            raise Disconnected(
                f"mockauth closed the connection without a response (disconnect mode, {call.operation})"
            )
        if mode.effect == "expire" and call.operation == "login":
            return handler(self, call)  # login sees call.selection and issues expired tokens
        if mode.effect in ("error", "expire"):
            assert mode.error is not None
            headers = applied.headers()
            if call.operation in BEARER_OPERATIONS and mode.status == 401:
                headers.append(www_authenticate(mode.error, mode.error_description))
            raise ApiError(mode.status, mode.error, mode.error_description, headers)
        try:
            response = handler(self, call)
        except ApiError as error:
            response = error.response()
        if mode.effect == "incomplete":
            body = response.get_json(silent=True) if response.status_code == 200 else None
            body = body if isinstance(body, dict) else {"token_type": "bearer"}
            body.pop("access_token", None)
            return json_response(body, 200, _without_length(response.headers))
        # malformed: the start of a real answer, cut off mid-way.
        data = response.get_data() or _MALFORMED_TAIL
        cut = data[: max(1, len(data) // 2)]
        return Response(cut, 200, _without_length(response.headers), content_type="application/json")

    def _journal(self, request: Request, call: Call | None, status: int, error: str | None, started: float) -> None:
        with contextlib.suppress(StoreUnavailable):  # the journal lives in the store that is down
            self.auth.journal.record(
                time=self.auth.clock.now(),
                method=request.method,
                path=request.path,
                operation=call.operation if call else None,
                status=status,
                user=call.user if call else None,
                modes=(
                    tuple(call.selection.names)
                    if call and call.selection is not _modes.NOTHING else ()
                ),
                error=error,
                params=redact(call.params) if call else {},
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )

    # -- shared steps ----------------------------------------------------------------

    def body(self, call: Call, *, form: bool = True) -> dict[str, Any]:
        call.params = parse_body(call.request, self.auth.settings.max_body_size, form=form)
        return call.params

    def bearer_claims(self, call: Call) -> dict[str, Any]:
        token = bearer_token(call.request)
        if token is None:
            raise ApiError(401, "invalid_token", "The request has no bearer token.", [www_authenticate()])
        if not token:
            description = "The Authorization header must be 'Bearer <token>'."
            raise ApiError(401, "invalid_token", description, [www_authenticate("invalid_token", description)])
        try:
            return self.auth.tokens.verify(token)
        except TokenError as error:
            raise ApiError(
                401, error.code, error.description,
                [www_authenticate(error.code, error.description)],
            ) from None

    def token_answer(self, body: dict[str, Any]) -> Response:
        return json_response(body, 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def check_account(self, user: User) -> None:
        if user.locked:
            raise ApiError(403, "account_locked", "The account is locked.")
        if user.disabled:
            raise ApiError(403, "account_disabled", "The account is disabled.")


def _scrub(text: str, call: Call) -> str:
    """`text` without the passwords and tokens the request carried (for the error log)."""
    values = [v for k, v in call.params.items() if k in SECRET_FIELDS and isinstance(v, str)]
    for header in ("Authorization", "X-Mockauth-Admin-Token"):
        values.append(call.request.headers.get(header) or "")
    for value in sorted(filter(None, values), key=len, reverse=True):
        for form in {value, quote(value), quote_plus(value)}:
            text = text.replace(form, REDACTED)
    return text


def _tagged(response: Response, error: str) -> Response:
    response.headers["X-Mockauth-Error"] = error
    return response


def _without_length(headers: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k.lower() not in ("content-length", "content-type")]


# -- whose request is it (for per-user modes) -----------------------------------------


def _login_subject(app: App, call: Call) -> str | None:
    username = app.body(call).get("username")
    if not isinstance(username, str):
        return None
    user = app.auth.find_user(username)
    return user.username if user else username


def _refresh_subject(app: App, call: Call) -> str | None:
    token = app.body(call).get("refresh_token")
    return app.auth.tokens.refresh_owner(token) if isinstance(token, str) else None


def _bearer_subject(app: App, call: Call) -> str | None:
    token = bearer_token(call.request)
    return unverified_subject(token) if token else None


SUBJECTS: dict[str, Callable[[App, Call], str | None]] = {
    "login": _login_subject,
    "refresh": _refresh_subject,
    "me": _bearer_subject,
    "logout": _bearer_subject,
}


# -- the auth API ---------------------------------------------------------------------


def login(app: App, call: Call) -> Response:
    username, password = required_strings(call.params, "username", "password")
    user = app.auth.find_user(username)
    expected = user.password.encode() if user else _NO_SUCH_PASSWORD
    # Digests of equal length, so the comparison time says nothing about the password's
    # length or its first wrong byte; an unknown user costs the same comparison.
    matches = hmac.compare_digest(
        hashlib.sha256(password.encode()).digest(), hashlib.sha256(expected).digest()
    )
    if user is None or not matches:
        raise ApiError(401, "invalid_credentials", "The username or password is incorrect.")
    app.check_account(user)
    failure = call.selection.failure
    expired = failure is not None and failure.mode.effect == "expire"
    return app.token_answer(app.auth.tokens.token_response(user, expired=expired))


def refresh(app: App, call: Call) -> Response:
    (token,) = required_strings(call.params, "refresh_token")
    try:
        username, family = app.auth.tokens.rotate(token)
    except TokenError as error:
        raise ApiError(401, error.code, error.description) from None
    user = app.auth.users.get(username)
    if user is None:
        raise ApiError(401, "invalid_token", "The user of this refresh token no longer exists.")
    app.check_account(user)
    return app.token_answer(app.auth.tokens.token_response(user, family=family))


def me(app: App, call: Call) -> Response:
    claims = app.bearer_claims(call)
    user = app.auth.users.get(claims["sub"])
    if user is None:
        description = "The user of this token no longer exists."
        raise ApiError(401, "invalid_token", description, [www_authenticate("invalid_token", description)])
    body: dict[str, Any] = {"sub": user.username}
    if user.email:
        body["email"] = user.email
    body.update(user.claims)
    return json_response(body, 200, [("Cache-Control", "no-store")])


def logout(app: App, call: Call) -> Response:
    claims = app.bearer_claims(call)
    app.auth.tokens.revoke(claims)
    return Response(status=204)


def jwks(app: App, call: Call) -> Response:
    return json_response(app.auth.tokens.keys.jwks(), 200, [("Cache-Control", "public, max-age=300")])


def openid_configuration(app: App, call: Call) -> Response:
    base = call.request.host_url
    return json_response({
        "issuer": app.auth.settings.issuer,
        "jwks_uri": base + ".well-known/jwks.json",
        "token_endpoint": base + "auth/login",
        "userinfo_endpoint": base + "auth/me",
        "end_session_endpoint": base + "auth/logout",
        "grant_types_supported": ["password", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [app.auth.settings.algorithm],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "jti", "email"],
    })


def health(app: App, call: Call) -> Response:
    return json_response({"status": "ok"})


def openapi(app: App, call: Call) -> Response:
    return Response(app.auth.spec.text, 200, content_type="application/yaml; charset=utf-8")


# -- the control API (mock only) ------------------------------------------------------


def dashboard(app: App, call: Call) -> Response:
    from ._dashboard import page

    return Response(page(), 200, content_type="text/html; charset=utf-8")


def control_state(app: App, call: Call) -> Response:
    return json_response(app.auth.state())


def control_reset(app: App, call: Call) -> Response:
    app.auth.reset()
    return json_response(app.auth.state())


def control_list_modes(app: App, call: Call) -> Response:
    return json_response({
        "available": [mode.as_dict() for mode in _modes.MODES.values()],
        "armed": [arming.as_dict() for arming in app.auth.modes.armed()],
    })


def control_arm_mode(app: App, call: Call) -> Response:
    body = app.body(call, form=False)
    unknown = set(body) - {"name", "operation", "user", "times", "probability", "seed", "options"}
    if unknown:
        raise bad_request(f"Unknown field {sorted(unknown)[0]!r}.")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("The field 'name' must be a mode name.")
    options = body.get("options", {})  # null, [] or "" are not an empty object
    if not isinstance(options, dict):
        raise bad_request("The field 'options' must be an object.")
    scope: dict[str, Any] = {k: body.get(k) for k in _modes.SCOPE_KEYS}
    clash = sorted(set(options) & {"name", "source", *scope})
    if clash:
        raise bad_request(f"The field 'options' cannot set {clash[0]!r}; it is a field of its own.")
    try:
        arming = app.auth.modes.arm(name, **scope, **options)
    except (ModeError, TypeError) as error:
        raise bad_request(str(error)) from None
    return json_response(arming.as_dict(), 201)


def control_disarm_all(app: App, call: Call) -> Response:
    app.auth.modes.disarm()
    return Response(status=204)


def control_disarm_mode(app: App, call: Call) -> Response:
    try:
        app.auth.modes.disarm(int(call.args["arming_id"]))
    except (ValueError, ModeError):
        raise ApiError(404, "not_found", f"No armed mode with id {call.args['arming_id']!r}.") from None
    return Response(status=204)


def control_clock(app: App, call: Call) -> Response:
    return json_response(app.auth.clock.as_dict())


def control_set_clock(app: App, call: Call) -> Response:
    body = app.body(call, form=False)
    action = body.get("action")
    clock = app.auth.clock
    for name in ("seconds", "at"):  # present but of the wrong type: refused whatever the action
        value = body.get(name)
        if name in body and not is_number(value):
            raise bad_request(f"The field {name!r} must be a number.")

    def number(name: str) -> float:
        value = body.get(name)
        if not is_number(value):
            raise bad_request(f"The action {action!r} needs a number {name!r}.")
        if abs(value) > 1e11:
            raise bad_request(f"The field {name!r} is out of range.")
        return float(value)

    if action == "advance":
        clock.advance(number("seconds"))
    elif action == "set":
        clock.set(number("at"))
    elif action == "freeze":
        clock.freeze(number("at") if body.get("at") is not None else None)
    elif action == "unfreeze":
        clock.unfreeze()
    elif action == "reset":
        clock.reset()
    else:
        raise bad_request("The field 'action' must be one of advance, freeze, unfreeze, set, reset.")
    return json_response(clock.as_dict())


def control_list_users(app: App, call: Call) -> Response:
    # Fixture passwords are test data, shown on request so the dashboard can offer a
    # login curl line that works as pasted.
    passwords = call.request.args.get("passwords", "false")
    if passwords not in ("true", "false"):
        raise bad_request("The query parameter 'passwords' must be true or false.")
    return json_response([
        {**user.public(), "password": user.password} if passwords == "true" else user.public()
        for user in app.auth.users.values()
    ])


def control_add_user(app: App, call: Call) -> Response:
    body = app.body(call, form=False)
    if "claims" in body and not isinstance(body["claims"], dict):
        raise bad_request("The field 'claims' must be an object.")
    try:
        user = user_from_mapping(body)
    except ConfigError as error:
        raise bad_request(f"User: {error}") from None
    app.auth.add_user(user)
    return json_response(user.public(), 201)


def control_update_user(app: App, call: Call) -> Response:
    body = app.body(call, form=False)
    if "username" in body:
        raise bad_request("The username cannot be changed; remove the user and add another.")
    try:
        user = app.auth.update_user(call.args["username"], **body)
    except UnknownUserError as error:
        raise ApiError(404, "not_found", str(error)) from None
    except (ConfigError, TypeError) as error:
        raise bad_request(f"User: {error}") from None
    return json_response(user.public())


def control_remove_user(app: App, call: Call) -> Response:
    try:
        app.auth.remove_user(call.args["username"])
    except UnknownUserError as error:
        raise ApiError(404, "not_found", str(error)) from None
    return Response(status=204)


def control_journal(app: App, call: Call) -> Response:
    query = call.request.args
    after = query.get("after")
    if after is not None and not after.lstrip("-").isdigit():
        raise bad_request("The query parameter 'after' must be a whole number.")
    entries = app.auth.journal.entries(
        query.get("operation"), user=query.get("user"), after=int(after) if after else None
    )
    return json_response({"total": app.auth.journal.total, "entries": [e.as_dict() for e in entries]})


def control_clear_journal(app: App, call: Call) -> Response:
    app.auth.journal.clear()
    return Response(status=204)


def control_issue_token(app: App, call: Call) -> Response:
    body = app.body(call, form=False)
    (username,) = required_strings(body, "username")
    expires_in = body.get("expires_in")
    valid_lifetime = is_whole(expires_in) and abs(expires_in) <= 10**9
    if expires_in is not None and not valid_lifetime:
        raise bad_request("The field 'expires_in' must be a whole number of seconds.")
    claims = body.get("claims", {})
    if not isinstance(claims, dict):
        raise bad_request("The field 'claims' must be an object.")
    try:
        token = app.auth.issue_token(username, expires_in=expires_in, **claims)
    except UnknownUserError as error:
        raise ApiError(404, "not_found", str(error)) from None
    except MockAuthError as error:
        raise bad_request(str(error)) from None
    return json_response({"access_token": token, "token_type": "bearer"}, 201)


def control_decode_token(app: App, call: Call) -> Response:
    body = app.body(call, form=False)
    token = body.get("token")
    if not isinstance(token, str):  # any string, even empty: the verdict says what is wrong
        raise bad_request("The field 'token' must be a string.")
    header, claims = decode_unverified(token.strip())
    verdict: dict[str, Any] = {
        "header": header, "claims": claims, "valid": True, "error": None, "error_description": None,
    }
    try:
        app.auth.tokens.verify(token.strip())
    except TokenError as error:
        verdict.update(valid=False, error=error.code, error_description=error.description)
    return json_response(verdict)


HANDLERS: dict[str, Handler] = {
    handler.__name__: handler
    for handler in [
        login, refresh, me, logout, jwks, openid_configuration, health, openapi, dashboard,
        control_state, control_reset, control_list_modes, control_arm_mode, control_disarm_all,
        control_disarm_mode, control_clock, control_set_clock, control_list_users,
        control_add_user, control_update_user, control_remove_user, control_journal,
        control_clear_journal, control_issue_token, control_decode_token,
    ]
}
