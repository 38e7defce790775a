"""The challenge steps of a login: a one-time code (``POST /auth/mfa``) and a new password
(``POST /auth/password``), each taking the token a 403 challenge answered with."""

from __future__ import annotations

from werkzeug.wrappers import Response

from .._state.challenges import KINDS
from .http import required_strings
from .steps import login_step, read_body, signed_in
from .wsgi import App, Call, Handler, Subject


def _challenge_subject(app: App, call: Call) -> str | None:
    """The user whose login the challenge token carries (each operation is named after
    the kind of challenge it answers)."""
    token = read_body(app, call).get(KINDS[call.operation].token_field)
    return app.state.challenges.owner(token) if isinstance(token, str) else None


SUBJECTS: dict[str, Subject] = {operation: _challenge_subject for operation in KINDS}


def mfa(app: App, call: Call) -> Response:
    mfa_token, code = required_strings(call.params, "mfa_token", "code")
    return signed_in(app, call, login_step(lambda: app.state.challenges.verify_code(mfa_token, code)))


def password(app: App, call: Call) -> Response:
    change_token, new_password = required_strings(call.params, "change_token", "new_password")
    return signed_in(
        app, call, login_step(lambda: app.state.challenges.change_password(change_token, new_password))
    )


ROUTES: dict[str, Handler] = {handler.__name__: handler for handler in [mfa, password]}
