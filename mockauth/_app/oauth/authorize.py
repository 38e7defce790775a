"""The authorization endpoint (RFC 6749 4.1, OpenID Connect Core 3.1.2): the login page,
and the redirect back to the client with a code or an error.

An unknown client or a redirect URI the client did not register gets a page and is
never redirected to (RFC 6749 4.1.2.1); every other error goes back to the client's
redirect URI with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from ..._clients import Client
from ..._errors import MockAuthError
from ..._state.challenges import KINDS, Challenge
from ..._state.tokens import new_family
from ..http import ApiError
from ..steps import check_account, issuer_of, read_body
from ..wsgi import App, Call, Handler, Shape, Subject
from . import page, pkce
from .common import check_scope, optional, query_params, required, scope_list, with_params
from .errors import (
    Answer,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from .login import (
    PAGE_ERRORS,
    SignInError,
    StepRefused,
    current_session,
    one_click_allowed,
    sign_in,
    start_session,
)

PROMPTS = ("none", "login", "consent", "select_account")
# The parameters of an authorization request the login page carries to its POST.
CARRIED = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint",
)
# What an error that is not an OAuth one reads as once redirected to the client.
_REDIRECTED = {429: "temporarily_unavailable", 500: "server_error", 503: "temporarily_unavailable"}


@dataclass(frozen=True)
class Target:
    """Where errors may go: a known client and one of its registered redirect URIs."""

    client: Client
    redirect_uri: str
    state: str | None


@dataclass(frozen=True)
class AuthorizationRequest:
    target: Target
    scope: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    carried: Mapping[str, str]


def read_target(app: App, params: Mapping[str, Any]) -> Target:
    """The client and redirect URI, or an Answer (a page: nothing may be redirected yet)."""
    try:
        client_id = required(params, "client_id")
        client = app.state.clients.find(client_id)
        if client is None:
            raise _page_error(401, "invalid_client", f"There is no client {client_id!r} on this server.")
        redirect_uri = required(params, "redirect_uri")
        if not client.redirect_allowed(redirect_uri):
            raise _page_error(
                403, "invalid_request",
                f"The redirect_uri {redirect_uri!r} is not registered for the client {client_id!r}.",
            )
        return Target(client, redirect_uri, optional(params, "state"))
    except InvalidRequest as error:
        raise _page_error(400, error.error, error.description) from None


def read_request(app: App, params: Mapping[str, Any]) -> AuthorizationRequest:
    """The whole authorization request: an Answer page for a bad client or redirect URI,
    an OAuthError (sent back to the client) for anything else."""
    target = read_target(app, params)
    client = target.client
    if optional(params, "request") is not None:
        raise RequestNotSupported("Request objects are not supported; send the parameters as such.")
    if optional(params, "request_uri") is not None:
        raise RequestUriNotSupported("request_uri is not supported; send the parameters as such.")
    response_type = required(params, "response_type")
    if response_type != "code":
        raise UnsupportedResponseType(f"response_type {response_type!r} is not supported; use 'code'.")
    response_mode = optional(params, "response_mode")
    if response_mode not in (None, "query"):  # a client waiting in its fragment or a form post would wait forever
        raise InvalidRequest(
            f"response_mode {response_mode!r} is not supported: the code comes back in the query "
            "(response_modes_supported: query)."
        )
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient(f"The client {client.client_id!r} may not use the authorization_code grant.")
    scope = check_scope(client, optional(params, "scope"))
    challenge = optional(params, "code_challenge")
    method = pkce.check_challenge(client, challenge, optional(params, "code_challenge_method"))
    prompt = frozenset(scope_list(optional(params, "prompt")))
    unknown = sorted(prompt - set(PROMPTS))
    if unknown:
        raise InvalidRequest(f"prompt {unknown[0]!r} is not one of {', '.join(PROMPTS)}.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other prompt values.")
    max_age_text = optional(params, "max_age")
    if max_age_text is not None and not (max_age_text.isascii() and max_age_text.isdigit()):
        raise InvalidRequest("max_age must be a whole number of seconds.")
    carried = {name: value for name in CARRIED if (value := optional(params, name)) is not None}
    return AuthorizationRequest(
        target, scope, optional(params, "nonce"), challenge, method, prompt,
        None if max_age_text is None else int(max_age_text), optional(params, "login_hint"), carried,
    )


# -- the operations ------------------------------------------------------------------


def authorize(app: App, call: Call) -> Response:
    """GET: sign in silently with a live session, or show the login page."""
    request = read_request(app, query_params(call))
    session = current_session(app, call)
    too_old = request.max_age is not None and session is not None and (
        app.state.clock.now() - session[1].auth_time > request.max_age
    )
    if too_old:
        session = None
    if session is not None and not request.prompt & {"login", "consent", "select_account"}:
        user, record = session
        call.user = user.username
        return code_redirect(app, call, request, user.username, record.auth_time, status=302)
    if "none" in request.prompt:
        raise LoginRequired("The user is not signed in, and prompt=none forbids showing a page.")
    return login_page(app, call, request, 200)


def authorize_login(app: App, call: Call) -> Response:
    """POST from the login page: sign in, start a session, redirect with a code."""
    request = read_request(app, read_body(app, call, form=True))
    failure = call.selection.failure
    outcome = sign_in(app, call, failure.mode.name if failure and failure.mode.effect == "challenge" else None)
    if isinstance(outcome, Challenge):  # a second step: a one-time code, a new password
        call.user = outcome.username
        return challenge_page(app, call, request, outcome, 200)
    user = outcome
    call.user = user.username
    # The session before the code: when the mock holds as many as it may, the refusal
    # leaves no code behind.
    set_cookie = start_session(app, call, user)
    response = code_redirect(app, call, request, user.username, app.state.clock.now(), status=303)
    set_cookie(response)
    return response


def code_redirect(
    app: App, call: Call, request: AuthorizationRequest, username: str, auth_time: float, *, status: int
) -> Response:
    return _redirect(issue_code(app, request, username, auth_time, issuer_of(app, call)), status)


def issue_code(app: App, request: AuthorizationRequest, username: str, auth_time: float, issuer: str) -> str:
    """A code for `username`, and the URL that hands it to the client."""
    target = request.target
    code = app.state.grants.new_code(
        client_id=target.client.client_id, username=username, scope=" ".join(request.scope),
        redirect_uri=target.redirect_uri, nonce=request.nonce, code_challenge=request.code_challenge,
        code_challenge_method=request.code_challenge_method, auth_time=auth_time, family=new_family(),
    )
    return with_params(target.redirect_uri, {"code": code, "state": target.state, "iss": issuer})


def error_location(target: Target, error: ApiError, issuer: str) -> str:
    code = error.error if isinstance(error, OAuthError) else _REDIRECTED.get(error.status, "invalid_request")
    return with_params(target.redirect_uri, {
        "error": code, "error_description": error.description, "state": target.state, "iss": issuer,
    })


def login_page(app: App, call: Call, request: AuthorizationRequest, status: int, message: str | None = None,
               headers: list[tuple[str, str]] | None = None) -> Response:
    client = request.target.client
    typed = optional(call.params, "username") if call.request.method == "POST" else None
    content = page.login_page(
        action=call.request.path,
        client_name=client.name or client.client_id,
        scopes=request.scope,
        hidden=request.carried,
        users=app.state.users.all().values(),
        one_click=one_click_allowed(app),
        username=typed or request.login_hint or "",
        message=message,
    )
    return page.page_response(content, status, headers or ())


def challenge_page(
    app: App, call: Call, request: AuthorizationRequest, challenge: Challenge, status: int,
    message: str | None = None,
) -> Response:
    client = request.target.client
    content = page.challenge_page(
        action=call.request.path, client_name=client.name or client.client_id, hidden=request.carried,
        kind=challenge.kind, token_field=KINDS[challenge.kind].token_field, token=challenge.token,
        rule=f"It needs {challenge.policy}." if challenge.kind == "password" else "", message=message,
    )
    return page.page_response(content, status)


def _redirect(location: str, status: int) -> Response:
    response = Response(status=status, headers=[("Location", location), ("Cache-Control", "no-store")])
    del response.headers["Content-Type"]  # no body to describe
    return response


def _page_error(status: int, error: str, description: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    content = page.message_page("Sign-in failed", description, error=error)
    return Answer(status, error, description, page.page_response(content, status, headers or ()))


# -- how errors reach the browser --------------------------------------------------------


def shape(app: App, call: Call, error: ApiError) -> ApiError:
    """A page for what cannot be redirected (or what the login form shows on itself), a
    redirect to the client for the rest; modes included."""
    if isinstance(error, Answer):
        return error
    try:
        params = call.params if call.request.method == "POST" else query_params(call)
        target = read_target(app, params)
        issuer = issuer_of(app, call)
    except (ApiError, MockAuthError):  # no client to tell: the error itself, as a page
        return _page_error(error.status, error.error, error.description, error.headers)
    if isinstance(error, StepRefused):
        try:
            request = read_request(app, params)
        except (ApiError, MockAuthError):
            return _page_error(error.status, error.error, error.description, error.headers)
        answer = challenge_page(app, call, request, error.challenge, error.status, error.description)
        return Answer(error.status, error.error, error.description, answer)
    if call.operation == "authorize_login" and (isinstance(error, SignInError) or error.error in PAGE_ERRORS):
        try:
            request = read_request(app, params)
        except OAuthError as refused:
            return Answer(refused.status, refused.error, refused.description,
                          _redirect(error_location(target, refused, issuer), 303))
        except (ApiError, MockAuthError):
            return _page_error(error.status, error.error, error.description, error.headers)
        answer = login_page(app, call, request, error.status, error.description, error.headers)
        return Answer(error.status, error.error, error.description, answer)
    redirect = _redirect(error_location(target, error, issuer), 303 if call.request.method == "POST" else 302)
    return Answer(error.status, error.error, error.description, redirect)


def authorize_for(app: App, params: Mapping[str, Any], username: str, issuer: str) -> str:
    """The URL the login page would send the browser to once `username` signed in (a
    code, or an error for the client); an Answer when the page could send it nowhere."""
    target = read_target(app, params)
    try:
        request = read_request(app, params)
    except OAuthError as error:
        return error_location(target, error, issuer)
    user = app.state.users.get(username)
    try:
        check_account(user)
    except ApiError as error:
        raise _page_error(error.status, error.error, f"user {username!r}: {error.description}") from None
    return issue_code(app, request, user.username, app.state.clock.now(), issuer)


def _login_subject(app: App, call: Call) -> str | None:
    params = read_body(app, call, form=True)
    name = params.get("one_click") or params.get("username")
    if not isinstance(name, str):
        return None
    user = app.state.users.find(name)
    return user.username if user else name


ROUTES: dict[str, Handler] = {"authorize": authorize, "authorize_login": authorize_login}
SUBJECTS: dict[str, Subject] = {"authorize_login": _login_subject}
SHAPES: dict[str, Shape] = {"authorize": shape, "authorize_login": shape}
