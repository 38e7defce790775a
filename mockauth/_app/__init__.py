"""The WSGI app: the auth API (with its challenge steps), OAuth 2.0 / OpenID Connect and
the control API over the mock's state.

``build_app`` hands the dispatcher (``wsgi.App``) the route table that the API modules
own, one row per operationId of ``openapi.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable

from .._spec import Spec
from .._state import State
from . import auth_api, challenge_api, control_api, oauth
from .wsgi import App, Call, Handler, Subject

ROUTES: dict[str, Handler] = {
    **auth_api.ROUTES, **challenge_api.ROUTES, **oauth.ROUTES, **control_api.ROUTES,
}
SUBJECTS: dict[str, Subject] = {**auth_api.SUBJECTS, **challenge_api.SUBJECTS, **oauth.SUBJECTS}


def build_app(state: State, spec: Spec, *, log: Callable[[str], None] = lambda message: None) -> App:
    """The app serving `spec`'s operations over `state`; SpecError when the spec names an
    operation that has no handler."""
    return App(state, spec, ROUTES, SUBJECTS, shapes=oauth.SHAPES, log=log)


__all__ = ["ROUTES", "App", "Call", "Handler", "build_app"]
