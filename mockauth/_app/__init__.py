"""The WSGI app: the auth API (with its challenge steps), OAuth 2.0 / OpenID Connect and
the control API over the mock's state.

``build_app`` hands the dispatcher (``wsgi.App``) the route table that the API modules
own, one row per operationId of ``openapi.yaml``: the seed API's module now, the others
by name, imported on the first request for one of their operations.
"""

from __future__ import annotations

from collections.abc import Callable

from .._spec import Spec
from .._state import State
from . import auth_api
from .wsgi import App, Call, Handler

# The API modules other than the seed API's, with the operations each one serves. They
# load on the first request for one of them, not with the app: a mock that answers only
# logins never imports OAuth, the challenge steps or the dashboard (a few ms of every
# `mockauth serve` start). tests/test_spec.py holds each row to its module's ROUTES.
LATER: dict[str, tuple[str, ...]] = {
    "challenge_api": ("mfa", "password"),
    "oauth": (
        "authorize", "authorize_login", "token", "userinfo", "userinfo_post", "introspect", "revoke",
        "end_session", "end_session_post", "openid_configuration", "oauth_authorization_server",
    ),
    "control_api": (
        "dashboard", "control_state", "control_reset", "control_list_modes", "control_arm_mode",
        "control_disarm_all", "control_disarm_mode", "control_clock", "control_set_clock",
        "control_list_users", "control_add_user", "control_update_user", "control_remove_user",
        "control_journal", "control_clear_journal", "control_issue_token", "control_decode_token",
        "control_list_clients", "control_add_client", "control_remove_client", "control_issue_client_token",
    ),
}


def build_app(state: State, spec: Spec, *, log: Callable[[str], None] = lambda message: None) -> App:
    """The app serving `spec`'s operations over `state`; SpecError when the spec names an
    operation that has no handler."""
    later = {operation: f"{__name__}.{module}" for module, operations in LATER.items() for operation in operations}
    return App(state, spec, auth_api.ROUTES, auth_api.SUBJECTS, later=later, log=log)


__all__ = ["LATER", "App", "Call", "Handler", "build_app"]
