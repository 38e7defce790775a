"""The WSGI app: route -> operation -> handler, with modes, the journal, CORS and errors.

The app never knows how it is served: the live server, ``responses``, the Werkzeug test
client and httpx all call the same ``App.__call__``. It is handed its state, the spec and
its route table (``operationId -> handler``); the handlers live in the modules of the API
they serve (``auth_api``, ``control_api``, ...) and reach the state through the app. A
module named in ``later`` is imported on the first request for one of its operations.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from .. import _modes
from .._errors import Disconnected, MockAuthError, ModeError, SpecError, StoreUnavailable
from .._modes import API_OPERATIONS, ISSUING_OPERATIONS, Applied, Selection
from .._spec import Spec
from .._state import State
from .._state.journal import REDACTED, SECRET_FIELDS, redact
from .._state.stores.expiring import StoreFull
from .._values import printable
from . import cors as _cors
from .admin import GUARD_KEY, Guard, admin_gate, host_name, host_refusal, valid_host
from .http import ApiError, bad_request, json_response, www_authenticate

if TYPE_CHECKING:
    from werkzeug.routing import Map, MapAdapter

BEARER_OPERATIONS = frozenset({"me", "logout"})
# Control calls that change nothing a worker keeps (the signing key is shared by all).
STATELESS_CONTROL = frozenset({"control_issue_token", "control_decode_token", "control_issue_client_token"})
_MALFORMED_TAIL = b'{"status":"ok"'
# Bugs kept for check(): the first few say what went wrong; more would only hold
# tracebacks (and the request bodies in their frames) in memory.
MAX_ERRORS = 10
# Distinct refused origins and hosts named in the log; past that, one line says so.
MAX_NAMED = 100
# The answer when even answering a bug failed: fixed bytes, nothing left to go wrong.
_LAST_RESORT = (
    b'{"error":"server_error","error_description":"mockauth failed and could not say why. '
    b'This is a bug in mockauth, not a mode; please report it."}'
)

Handler = Callable[["App", "Call"], Response]
# Whose request this is, for per-user modes and the journal (before the handler runs).
Subject = Callable[["App", "Call"], "str | None"]
# How an operation's errors look (the login page's are pages and redirects, the token
# endpoint's RFC 6749 codes): the error a handler or a mode raised, reshaped.
Shape = Callable[["App", "Call", ApiError], ApiError]


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

    def __init__(
        self,
        state: State,
        spec: Spec,
        routes: Mapping[str, Handler],
        subjects: Mapping[str, Subject],
        *,
        shapes: Mapping[str, Shape] | None = None,
        later: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.state = state
        self.settings = state.settings
        self.spec = spec
        self.handlers = dict(routes)
        self.subjects = dict(subjects)
        self.shapes = dict(shapes or {})
        # operationId -> the module that serves it, for the operations not routed yet;
        # the module's ROUTES, SUBJECTS and SHAPES join the tables above when it loads.
        self.later = dict(later or {})
        self.log = log
        # Built on the first request with a path variable: werkzeug.routing and what it
        # imports (difflib, uuid, platform) are a tenth of `mockauth serve`'s start-up,
        # and logins never need them (static_routes below).
        self._url_map: Map | None = None
        # Paths without variables are found with one dict lookup; Werkzeug's matcher
        # (a third of the app's own time on a login) runs only for the rest.
        self.static_routes: dict[tuple[str, str | None], str] = {
            (op.method, op.path): op.operation_id
            for op in spec.operations if "{" not in op.path
        }
        self.control_operations = frozenset(
            op.operation_id for op in spec.operations if op.control
        )
        missing = {op.operation_id for op in spec.operations} - set(self.handlers) - set(self.later)
        if missing:
            raise SpecError(
                f"{spec.path}: operations with no handler in mockauth: {', '.join(sorted(missing))}"
            )
        # The admin_token setting guards the control API behind every door; a live
        # server's own token (generated off loopback) comes with its requests (Guard).
        self.admin_token: str | None = state.settings.admin_token
        self.refused_operations: frozenset[str] = frozenset()
        self.refusal = ""
        # Bugs raised while serving, for check(); at most MAX_ERRORS, and none at all
        # when nothing will ever call check() (`mockauth serve` sets keep_errors False).
        self.errors: list[BaseException] = []
        self.errors_dropped = 0
        self.keep_errors = True
        self._errors_lock = threading.Lock()
        # Through a lambda, so that a log function set on the app later is the one used.
        self._origin_log = _LogOnce(lambda line: self.log(line), "refused browser origins")
        self._host_log = _LogOnce(lambda line: self.log(line), "refused Host names")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            try:
                response = self.answer(environ)
            except Disconnected:
                raise
            except Exception as error:  # a bug outside any handler: still JSON
                response = self.crashed(error, environ, None)
            return _send(response, environ, start_response)
        except Disconnected:
            raise
        except Exception:
            # Even answering failed: fixed bytes that cannot fail again.
            start_response("500 INTERNAL SERVER ERROR", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(_LAST_RESORT))),
            ])
            return [_LAST_RESORT]

    def answer(self, environ: dict[str, Any]) -> Response:
        """The response to one request, journaled, with its CORS headers."""
        started = time.perf_counter()
        # Not stored in the environ (werkzeug.request): that makes a reference cycle, which
        # only the garbage collector frees, a collection every 30-odd requests.
        request = Request(environ, populate_request=False)
        guard: Guard | None = environ.get(GUARD_KEY)
        store = self.state.stores
        store.begin()  # a shared store reads the clock, users and modes once per request
        try:
            call: Call | None = None
            host = environ.get("HTTP_HOST")
            if host is not None and not valid_host(host):
                refusal = bad_request(f"The Host header {printable(host)[:100]!r} is not a host name or address.")
                response = _tagged(refusal.response(), refusal.error)
            elif guard is not None and not guard.allows_host(host, self.settings.allowed_hosts):
                refusal = host_refusal(str(host))
                name = host_name(str(host)) or str(host)
                self._host_log(name, f"refused a request for the host {name!r}: {refusal.description}")
                response = _tagged(refusal.response(), refusal.error)
            elif request.method == "OPTIONS":
                # Before routing: a browser's preflight names no operation, only a path.
                response = self.options(request)
            else:
                call, response = self.dispatch(request, started, guard)
            # The control API's own requests are not journaled (preflights by path).
            preflight = request.method == "OPTIONS" and call is None
            control = call.operation in self.control_operations if call is not None else (
                preflight and request.path.startswith("/_mockauth")
            )
            if not control:
                self._journal(request, call, response.status_code, _error_of(response), started)
        finally:
            store.end()
        if request.method != "OPTIONS":
            self.cors(request, response)
        if self.settings.cors_origins:
            # The answer differs by Origin (its CORS headers), refused origins too: a
            # cache (the JWKS is cacheable) must keep one copy per origin. (Appended when
            # there is no Vary yet: response.vary parses and rewrites the header.)
            if response.headers.getlist("Vary"):
                response.vary.add("Origin")
            else:
                response.headers.add("Vary", "Origin")
        return response

    def crashed(self, error: Exception, environ: dict[str, Any], call: Call | None) -> Response:
        """A bug: kept for check(), logged with the request's secrets scrubbed, answered
        with a JSON 500 that names only the exception type. Never raises."""
        try:
            if self.keep_errors:
                with self._errors_lock:
                    if len(self.errors) < MAX_ERRORS:
                        self.errors.append(error)
                    else:
                        self.errors_dropped += 1
            where = call.operation if call is not None else environ.get("PATH_INFO", "?")
            report = f"error: {where}: {type(error).__name__}: {error}\n{traceback.format_exc()}"
            self.log(printable(_scrub(report, call, environ)))
            method = printable(str(environ.get("REQUEST_METHOD", "?")))
            path = printable(str(environ.get("PATH_INFO", "?")))[:200]
            return _tagged(ApiError(
                500, "server_error",
                f"mockauth failed on {method} {path}: {type(error).__name__}. "
                "This is a bug in mockauth, not a mode; please report it.",
            ).response(), "server_error")
        except Exception:
            return Response(_LAST_RESORT, 500, content_type="application/json")

    def take_errors(self) -> tuple[list[BaseException], int]:
        """The bugs kept for check() and how many more were not kept; forgets them."""
        with self._errors_lock:
            errors, dropped = list(self.errors), self.errors_dropped
            self.errors.clear()
            self.errors_dropped = 0
        return errors, dropped

    @property
    def url_map(self) -> Map:
        if self._url_map is None:
            self._url_map = self.spec.url_map()  # two threads may both build it: same map
        return self._url_map

    def _adapter(self, request: Request) -> MapAdapter:
        # Bound to the path alone: routing never looks at the Host (which a client
        # chooses, and werkzeug's bind_to_environ fails on when it is odd).
        return self.url_map.bind(
            "mockauth.invalid", script_name=request.script_root or "/",
            path_info=request.path, default_method=request.method,
        )

    def refuse_state_changes(self, description: str) -> None:
        """Answer 409 ``per_worker_state`` to every control-API call that changes state.

        For several worker processes: such a call would reach one worker of many and
        leave the others as they were. Reads, issuing and decoding tokens still answer.
        """
        self.refused_operations = frozenset(
            op.operation_id for op in self.spec.operations
            if op.control and op.method not in ("GET", "HEAD")
            and op.operation_id not in STATELESS_CONTROL
        )
        self.refusal = description

    def cors(self, request: Request, response: Response) -> None:
        """CORS headers on any answer to an allowed browser origin; none for the others."""
        # From the environ: request.headers.get builds a KeyError when the header is
        # missing, as it is on most requests.
        origin = request.environ.get("HTTP_ORIGIN")
        if origin is None or origin == f"{request.scheme}://{request.host}":
            return  # not a cross-origin request (the login page's form posts to its own origin)
        if _cors.allowed(origin, self.settings.cors_origins):
            _cors.add_headers(response.headers, origin)
        else:
            self._refused(origin)

    def options(self, request: Request) -> Response:
        """OPTIONS on any route: 204 with Allow, and a CORS preflight answer for an
        allowed origin; a preflight from any other origin is refused with 403."""
        adapter = self._adapter(request)
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
        if not _cors.allowed(origin, self.settings.cors_origins):
            self._refused(origin)
            if request.headers.get("Access-Control-Request-Method") is None:
                return response
            return _tagged(ApiError(
                403, "origin_not_allowed",
                f"The origin {origin} may not call this server from a browser; "
                f"{self._allow_origin_hint(origin)}.",
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
        hint = self._allow_origin_hint(origin)
        self._origin_log(origin, f"refused the browser origin {origin} (not in cors_origins); {hint}")

    def _allow_origin_hint(self, origin: str) -> str:
        # --cors-origins replaces the list, so the hint keeps what is allowed now.
        now = self.settings.cors_origins
        wanted = ",".join((origin.lower(), *now))
        return (
            f"to allow it as well as the origins allowed now ({', '.join(now) or 'none'}), start "
            f"mockauth with --cors-origins '{wanted}' (setting cors_origins)"
        )

    def dispatch(self, request: Request, started: float, guard: Guard | None = None) -> tuple[Call | None, Response]:
        environ = request.environ
        static = self.static_routes.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO")))
        if static is not None:
            return self._dispatch_call(request, Call(request, static, {}), started, guard)
        from werkzeug.routing import RequestRedirect

        adapter = self._adapter(request)
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
        return self._dispatch_call(request, Call(request, str(operation), dict(args)), started, guard)

    def _dispatch_call(
        self, request: Request, call: Call, started: float, guard: Guard | None
    ) -> tuple[Call, Response]:
        if call.operation not in self.handlers:
            self._route_later(call.operation)
        # Here, not in dispatch(): static routes (most of the control API) skip the matcher.
        admin_token = self.admin_token or (guard.admin_token if guard is not None else None)
        if admin_token is not None and call.operation in self.control_operations:
            refusal = admin_gate(request, admin_token)
            if refusal is not None:
                return call, refusal
        try:
            try:
                response = self.handle(call)
            except StoreUnavailable as error:
                # Redis is down: an answer clients know how to retry, not a bug (the store
                # logs the outage once).
                raise ApiError(503, "temporarily_unavailable", str(error), [("Retry-After", "1")]) from None
            except StoreFull as full:
                # A revocation, a code, a session or a challenge is kept until it expires
                # on the mock's clock: past a cap the mock refuses more rather than forget one.
                raise ApiError(
                    503, "temporarily_unavailable", full.description, [("Retry-After", str(full.retry_after))]
                ) from None
        except ApiError as error:
            shaped = self.shape(call, error)
            response = _tagged(shaped.response(), shaped.error)
        except Disconnected:
            self._journal(request, call, 0, "disconnect", started)
            raise
        except Exception as error:  # a bug: answer JSON, and keep it for check()
            response = self.crashed(error, request.environ, call)
        return call, response

    def route_everything(self) -> None:
        """Import every API module now: before a server forks its workers, so that they
        share the code and none imports a module on its first request."""
        for operation in list(self.later):
            if operation not in self.handlers:
                self._route_later(operation)

    def _route_later(self, operation: str) -> None:
        """Import the module that serves `operation` and take in its tables. Two threads
        may both get here: the import happens once, and both add the same rows."""
        module = importlib.import_module(self.later[operation])
        self.subjects.update(getattr(module, "SUBJECTS", {}))
        self.shapes.update(getattr(module, "SHAPES", {}))
        # Last: a thread that finds the handler finds the subject and shape as well.
        for name, handler in module.ROUTES.items():
            self.handlers.setdefault(name, handler)

    def handle(self, call: Call) -> Response:
        handler = self.handlers[call.operation]
        if call.operation not in API_OPERATIONS:
            if call.operation in self.refused_operations:
                raise ApiError(409, "per_worker_state", self.refusal)
            return handler(self, call)
        subject = self.subjects.get(call.operation)
        if subject is not None:
            call.user = subject(self, call)
        header = call.request.environ.get("HTTP_X_MOCKAUTH_MODE") if self.settings.mode_header else None
        try:
            requested = _modes.parse_header(header) if header else []
        except ModeError as error:
            raise bad_request(f"X-Mockauth-Mode: {error}") from None
        call.selection = self.state.modes.select(call.operation, call.user, requested)
        if call.selection.delay is not None:
            time.sleep(call.selection.delay.options["delay"])
        failure = call.selection.failure
        if failure is None:
            return handler(self, call)
        return self.fail(call, failure, handler)

    def shape(self, call: Call, error: ApiError) -> ApiError:
        """The error as the operation answers it (most answer it as it is)."""
        shape = self.shapes.get(call.operation)
        if shape is None:
            return error
        try:
            return shape(self, call, error)
        except (ApiError, MockAuthError):  # e.g. the store went down meanwhile: the error as it is
            return error
        except Exception as bug:  # a bug in the shape: the error as it is, the bug kept and logged
            self.crashed(bug, call.request.environ, call)
            return error

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
        if mode.effect == "challenge" or (mode.effect == "expire" and call.operation in ISSUING_OPERATIONS):
            # The handler sees call.selection: a login step challenges, or issues expired tokens.
            # A count it did not use (a wrong password, or another request took the last
            # one): not applied.
            try:
                return handler(self, call)
            finally:
                if call.selection.deferred is not None:
                    call.selection = call.selection._replace(failure=None, deferred=None)
        if mode.effect in ("error", "expire"):
            assert mode.error is not None
            headers = applied.headers()
            if call.operation in BEARER_OPERATIONS and mode.status == 401:
                headers.append(www_authenticate(mode.error, mode.error_description))
            raise ApiError(mode.status, mode.error, mode.error_description, headers)
        try:
            response = handler(self, call)
        except ApiError as error:
            response = self.shape(call, error).response()
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
            self.state.journal.record(
                time=self.state.clock.now(),
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


def _send(response: Response, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """`response` handed to the server: ``response(environ, start_response)``, shortened
    for the answers nearly every request gets (a 2xx with its body in memory and its
    length set, to a method that gets a body). Werkzeug copies the headers of every
    response and scans them for a Location to rewrite and a length to set: a
    twentieth of a login."""
    status = response.status_code
    if (
        200 <= status < 300 and status != 204 and environ["REQUEST_METHOD"] != "HEAD"
        and type(response.response) is list and not response.direct_passthrough
    ):
        headers = response.headers.to_wsgi_list()
        names = {name.lower() for name, _ in headers}
        if "content-length" in names and "location" not in names and "content-location" not in names:
            start_response(response.status, headers)
            return response.response
    return response(environ, start_response)


def _scrub(text: str, call: Call | None, environ: Mapping[str, Any]) -> str:
    """`text` without the passwords and tokens the request carried (for the error log)."""
    values = []
    if call is not None:
        values += [v for k, v in call.params.items() if k in SECRET_FIELDS and isinstance(v, str)]
    for key in ("HTTP_AUTHORIZATION", "HTTP_X_MOCKAUTH_ADMIN_TOKEN", "HTTP_COOKIE"):
        values.append(str(environ.get(key) or ""))
    for value in sorted(filter(None, values), key=len, reverse=True):
        for form in {value, quote(value, errors="backslashreplace"), quote_plus(value, errors="backslashreplace")}:
            text = text.replace(form, REDACTED)
    return text


class _LogOnce:
    """One log line per distinct value, for at most MAX_NAMED values: enough to explain
    what was refused, and a bounded set and log whatever a client sends."""

    def __init__(self, log: Callable[[str], None], what: str) -> None:
        self._log = log
        self._what = what
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, key: str, line: str) -> None:
        with self._lock:
            if key in self._seen or len(self._seen) > MAX_NAMED:
                return
            self._seen.add(key)
            full = len(self._seen) > MAX_NAMED
        if full:
            self._log(f"{MAX_NAMED} {self._what} named in this log already; further ones are not")
        else:
            self._log(printable(line))


# The error code of an answer, for the journal: kept on the response object, never sent.
_ERROR_ATTRIBUTE = "mockauth_error"


def _tagged(response: Response, error: str) -> Response:
    setattr(response, _ERROR_ATTRIBUTE, error)
    return response


def _error_of(response: Response) -> str | None:
    error: str | None = getattr(response, _ERROR_ATTRIBUTE, None)
    return error


def _without_length(headers: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k.lower() not in ("content-length", "content-type")]
