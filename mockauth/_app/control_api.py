"""The control API (mock only): state, modes, clock, users, journal, tokens, and the
dashboard that drives them."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from .. import _modes
from .._clients import client_from_mapping
from .._errors import ConfigError, MockAuthError, ModeError, UnknownClientError, UnknownUserError
from .._fixtures import User, user_from_mapping
from .._state import MAX_LIFETIME, check_lifetime
from .._state.clock import MAX_CLOCK_NUMBER
from .._state.tokens import TokenError, decode_unverified
from .._values import is_number
from .http import NO_STORE, ApiError, bad_request, json_response, query_integer, required_strings
from .oauth.grants.client_credentials import default_scope
from .steps import accepts_issuer, issuer_of, read_body, token_answer
from .wsgi import App, Call, Handler

_DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard" / "index.html"


@lru_cache(maxsize=1)
def page() -> bytes:
    """The dashboard: one HTML file with its CSS and JavaScript inline, no build step."""
    return _DASHBOARD.read_bytes()


def dashboard(app: App, call: Call) -> Response:
    return Response(page(), 200, content_type="text/html; charset=utf-8")


def control_state(app: App, call: Call) -> Response:
    return json_response(app.state.as_dict())


def control_reset(app: App, call: Call) -> Response:
    app.state.reset()
    return json_response(app.state.as_dict())


def control_list_modes(app: App, call: Call) -> Response:
    return json_response({
        "available": [mode.as_dict() for mode in _modes.MODES.values()],
        "armed": [arming.as_dict() for arming in app.state.modes.armed()],
    })


def control_arm_mode(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False, required=True)
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
        arming = app.state.modes.arm(name, **scope, **options)
    except (ModeError, TypeError) as error:
        raise bad_request(str(error)) from None
    return json_response(arming.as_dict(), 201)


def control_disarm_all(app: App, call: Call) -> Response:
    app.state.modes.disarm()
    return Response(status=204)


def control_disarm_mode(app: App, call: Call) -> Response:
    try:
        app.state.modes.disarm(int(call.args["arming_id"]))
    except (ValueError, ModeError):
        raise ApiError(404, "not_found", f"No armed mode with id {call.args['arming_id']!r}.") from None
    return Response(status=204)


def control_clock(app: App, call: Call) -> Response:
    return json_response(app.state.clock.as_dict())


# Each clock action and the fields it takes (openapi.yaml says the same, one branch each).
CLOCK_ACTIONS: dict[str, dict[str, bool]] = {  # field -> required
    "advance": {"seconds": True},
    "set": {"at": True},
    "freeze": {"at": False},
    "unfreeze": {},
    "reset": {},
}


def control_set_clock(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False, required=True)
    action = body.get("action")
    if not isinstance(action, str) or action not in CLOCK_ACTIONS:
        raise bad_request(f"The field 'action' must be one of {', '.join(CLOCK_ACTIONS)}.")
    fields = CLOCK_ACTIONS[action]
    numbers: dict[str, float] = {}
    for name in body:
        if name != "action" and name not in fields:
            takes = " or ".join(repr(f) for f in fields) or "no other field"
            raise bad_request(f"The action {action!r} takes {takes}, not {name!r}.")
    for name, required in fields.items():
        if name not in body:
            if required:
                raise bad_request(f"The action {action!r} needs a number {name!r}.")
            continue
        value = body[name]
        if not is_number(value):
            raise bad_request(f"The field {name!r} must be a number.")
        if abs(value) > MAX_CLOCK_NUMBER:
            raise bad_request(f"The field {name!r} is out of range (at most {MAX_CLOCK_NUMBER:.0e} either way).")
        numbers[name] = float(value)
    clock = app.state.clock
    if action == "advance":
        clock.advance(numbers["seconds"])
    elif action == "set":
        clock.set(numbers["at"])
    elif action == "freeze":
        clock.freeze(numbers.get("at"))
    elif action == "unfreeze":
        clock.unfreeze()
    else:
        clock.reset()
    return json_response(clock.as_dict())


def control_list_users(app: App, call: Call) -> Response:
    # Fixture passwords are test data, shown on request so the dashboard can offer a
    # login curl line that works as pasted, and an MFA user's code at the mock clock.
    passwords = _flag(call, "passwords")
    return json_response([
        _with_secrets(app, user) if passwords else user.public()
        for user in app.state.users.all().values()
    ], 200, NO_STORE if passwords else ())


def _with_secrets(app: App, user: User) -> dict[str, Any]:
    shown = user.record()
    if user.mfa:
        shown["mfa_code"], shown["mfa_code_valid_until"] = app.state.challenges.current_code(user)
    return shown


def _flag(call: Call, name: str) -> bool:
    """A true/false query parameter, false when absent."""
    value = call.request.args.get(name, "false")
    if value not in ("true", "false"):
        raise bad_request(f"The query parameter {name!r} must be true or false.")
    return value == "true"


def control_add_user(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False, required=True)
    if "claims" in body and not isinstance(body["claims"], dict):
        raise bad_request("The field 'claims' must be an object.")
    try:
        user = app.state.users.add(user_from_mapping(body))
    except ConfigError as error:
        raise bad_request(f"User: {error}") from None
    return json_response(user.public(), 201)


def control_update_user(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False, required=True)
    if "username" in body:
        raise bad_request("The username cannot be changed; remove the user and add another.")
    try:
        user = app.state.users.update(call.args["username"], **body)
    except UnknownUserError as error:
        raise ApiError(404, "not_found", str(error)) from None
    except (ConfigError, TypeError) as error:
        raise bad_request(f"User: {error}") from None
    return json_response(user.public())


def control_remove_user(app: App, call: Call) -> Response:
    try:
        app.state.users.remove(call.args["username"])
    except UnknownUserError as error:
        raise ApiError(404, "not_found", str(error)) from None
    return Response(status=204)


def control_list_clients(app: App, call: Call) -> Response:
    # Fixture secrets are test data, shown on request as passwords are.
    secrets = _flag(call, "secrets")
    return json_response([client.describe(secret=secrets) for client in app.state.clients.all().values()])


def control_add_client(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False)
    try:
        client = client_from_mapping(body)
    except ConfigError as error:
        raise bad_request(f"Client: {error}") from None
    app.state.clients.add(client)
    return json_response(client.describe(), 201)


def control_remove_client(app: App, call: Call) -> Response:
    try:
        app.state.clients.remove(call.args["client_id"])
    except UnknownClientError as error:
        raise ApiError(404, "not_found", str(error)) from None
    return Response(status=204)


def control_issue_client_token(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False)
    client = app.state.clients.find(call.args["client_id"])
    if client is None:
        raise ApiError(404, "not_found", f"No client {call.args['client_id']!r}.")
    unknown = set(body) - {"scope", "expires_in"}
    if unknown:
        raise bad_request(f"Unknown field {sorted(unknown)[0]!r}.")
    scope = body.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise bad_request("The field 'scope' must be a string.")
    expires_in = _expires_in(body)
    if scope is None:
        scope = default_scope(client)
    token, lifetime = app.state.tokens.client_token(
        client.client_id, scope=scope, expires_in=expires_in, issuer=issuer_of(app, call)
    )
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}, 201)


def control_journal(app: App, call: Call) -> Response:
    query = call.request.args
    entries = app.state.journal.entries(
        query.get("operation"), user=query.get("user"), after=query_integer(call.request, "after")
    )
    return json_response({"total": app.state.journal.total, "entries": [e.as_dict() for e in entries]})


def control_clear_journal(app: App, call: Call) -> Response:
    app.state.journal.clear()
    return Response(status=204)


def control_issue_token(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False, required=True)
    (username,) = required_strings(body, "username")
    expires_in = _expires_in(body)
    claims = body.get("claims", {})
    if not isinstance(claims, dict):
        raise bad_request("The field 'claims' must be an object.")
    try:
        token = app.state.issue_token(username, expires_in=expires_in, issuer=issuer_of(app, call), **claims)
    except UnknownUserError as error:
        raise ApiError(404, "not_found", str(error)) from None
    except MockAuthError as error:
        raise bad_request(str(error)) from None
    return token_answer({"access_token": token, "token_type": "bearer"}, 201)


def _expires_in(body: dict[str, Any]) -> int | None:
    """A minted token's lifetime: absent is the default, anything else a whole number of
    seconds (an explicit null too is refused, as openapi.yaml says: a page that sent
    Number("1e400") would otherwise get a default token without a word)."""
    if "expires_in" not in body:
        return None
    expires_in = body["expires_in"]
    with contextlib.suppress(ConfigError):
        if expires_in is not None:
            check_lifetime(expires_in)
            return int(expires_in)
    raise bad_request(
        f"The field 'expires_in' must be a whole number of seconds from -{MAX_LIFETIME} to {MAX_LIFETIME}."
    )


def control_decode_token(app: App, call: Call) -> Response:
    body = read_body(app, call, form=False, required=True)
    token = body.get("token")
    if not isinstance(token, str):  # any string, even empty: the verdict says what is wrong
        raise bad_request("The field 'token' must be a string.")
    header, claims = decode_unverified(token.strip())
    verdict: dict[str, Any] = {
        "header": header, "claims": claims, "valid": True, "error": None, "error_description": None,
    }
    try:
        app.state.tokens.verify(token.strip(), accepts_issuer(app, call))
    except TokenError as error:
        verdict.update(valid=False, error=error.code, error_description=error.description)
    return json_response(verdict, 200, NO_STORE)


ROUTES: dict[str, Handler] = {
    handler.__name__: handler
    for handler in [
        dashboard, control_state, control_reset, control_list_modes, control_arm_mode,
        control_disarm_all, control_disarm_mode, control_clock, control_set_clock,
        control_list_users, control_add_user, control_update_user, control_remove_user,
        control_journal, control_clear_journal, control_issue_token, control_decode_token,
        control_list_clients, control_add_client, control_remove_client, control_issue_client_token,
    ]
}
