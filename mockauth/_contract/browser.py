"""Signing in at a deployment's own login page as a browser without scripts would, to get
the authorization codes the OAuth checks need.

A code comes only from a person signing in, so the runner does what that person's browser
does: it opens the authorization URL, follows the redirects, fills the form that asks for
a password (a username field found by its name, type or ``autocomplete``; every hidden
field, a CSRF token among them, kept as served), submits it with the cookies it was given,
accepts a consent page by its allow button (its checkboxes ticked), and stops at the
redirect back to the client, reading the code off its ``Location`` without ever calling
the redirect URI. It never leaves the target's origin: a login page elsewhere (another
host of a single sign-on) gets no password from it, and the checks that need a code are
skipped saying so, as they are for a page that needs JavaScript. One browser serves a
run: once signed in, its session cookie gets later codes without the password again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from .client import Client, Exchange

# Pages and redirects one sign-in may take: a login page, a second step, a consent page.
MAX_STEPS = 12
_USERNAME_HINTS = ("user", "email", "login", "identifier", "account", "name")
_TEXT_TYPES = ("text", "email", "tel", "")
_ALLOW = ("allow", "accept", "approve", "authori", "consent", "confirm", "continue", "grant", "yes", "sign in",
          "log in", "login", "signin", "submit", "next")
_DENY = ("deny", "cancel", "reject", "decline", "no")
_HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


class SignInFailed(Exception):
    """No code came back: why, in words a report can show."""


@dataclass
class _Form:
    action: str
    method: str
    fields: list[dict[str, str]] = field(default_factory=list)  # <input>s, their attributes
    buttons: list[dict[str, str]] = field(default_factory=list)  # submit buttons, with their text

    def has(self, kind: str) -> bool:
        return any(f.get("type", "").lower() == kind for f in self.fields)

    def username_field(self) -> str | None:
        texts = [f for f in self.fields if f.get("type", "").lower() in _TEXT_TYPES and f.get("name")]
        for candidate in texts:
            words = " ".join(candidate.get(a, "") for a in ("name", "id", "autocomplete")).lower()
            if any(hint in words for hint in _USERNAME_HINTS):
                return candidate["name"]
        return texts[0]["name"] if texts else None


class _Page(HTMLParser):
    """The forms of a page, with their inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(_Form(values.get("action", ""), values.get("method", "get").lower() or "get"))
        elif not self.forms:
            return
        elif tag == "input":
            kind = values.get("type", "").lower()
            if kind in ("submit", "image"):
                self.forms[-1].buttons.append({**values, "text": values.get("value", "")})
            elif kind not in ("button", "reset", "file"):
                self.forms[-1].fields.append(values)
        elif tag == "button" and values.get("type", "submit").lower() == "submit":
            self._button = {**values, "text": ""}
            self.forms[-1].buttons.append(self._button)

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None


@dataclass(frozen=True)
class Authorization:
    """Where the sign-in ended: the redirect back to the client and its parameters."""

    exchange: Exchange  # the answer that redirected to the redirect URI
    params: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.params.get(name)


class Browser:
    """A cookie jar and a form filler over the checks' client; one sign-in at a time."""

    def __init__(self, client: Client, username: str, password: str) -> None:
        self.client = client
        self.username = username
        self.password = password
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()

    def authorize(self, url: str, redirect_uri: str) -> Authorization:
        """Open the authorization `url` and sign in until the browser is sent to `redirect_uri`."""
        with self.lock:
            return self._walk(url, redirect_uri)

    def _walk(self, url: str, redirect_uri: str) -> Authorization:
        answer = self._go("GET", url)
        signed_in = named = False
        consents = 0
        for _ in range(MAX_STEPS):
            if answer.status is None:
                raise SignInFailed(f"{_where(answer)} gave no answer ({answer.error})")
            location = answer.header("Location")
            if answer.status in (301, 302, 303, 307, 308) and location:
                target = urljoin(answer.url, location)
                if _same_place(target, redirect_uri):
                    query = {k: v[0] for k, v in parse_qs(urlsplit(target).query, keep_blank_values=True).items()}
                    return Authorization(answer, query)
                answer = self._go("GET", target)
                continue
            if answer.status != 200 or "html" not in (answer.header("Content-Type") or ""):
                hint = " (are the username and password right?)" if signed_in else ""
                raise SignInFailed(f"{_where(answer)} answered {answer.answer()}, not a page to sign in on{hint}")
            forms = _parse(answer)
            login = next((form for form in forms if form.has("password")), None)
            if login is not None:
                if signed_in:
                    raise SignInFailed(
                        f"the login page at {_where(answer)} asked for the password again after it was given "
                        "(are the username and password right? or it asks for a second factor)"
                    )
                signed_in = True
                answer = self._submit(answer, login, sign_in=True)
                continue
            first_step = next((form for form in forms if form.username_field() and not named), None)
            if first_step is not None and not signed_in:
                named = True  # a page that asks for the username first, the password next
                answer = self._submit(answer, first_step, sign_in=True)
                continue
            if signed_in and any(_asks_code(form) for form in forms):
                raise SignInFailed(
                    f"the login page at {_where(answer)} asks for a one-time code after the password: give a user "
                    "that signs in with a password alone"
                )
            consent = _consent_form(forms)
            if consent is None or consents >= 2:
                raise SignInFailed(
                    f"{_where(answer)} has no form the runner can fill (no password field, no allow button): "
                    "a login page that needs JavaScript, or a step the runner does not know"
                )
            consents += 1
            answer = self._submit(answer, consent, tick=True)
        raise SignInFailed(f"no redirect to the redirect URI after {MAX_STEPS} pages and redirects")

    def _submit(self, page: Exchange, form: _Form, *, sign_in: bool = False, tick: bool = False) -> Exchange:
        pairs: list[tuple[str, str]] = []
        username = form.username_field() if sign_in else None
        for item in form.fields:
            name, kind = item.get("name"), item.get("type", "").lower()
            if not name:
                continue
            if kind == "password":
                pairs.append((name, self.password if sign_in else ""))
            elif name == username:
                pairs.append((name, self.username))
            elif kind in ("checkbox", "radio"):
                if "checked" in item or (tick and kind == "checkbox"):
                    pairs.append((name, item.get("value") or "on"))
            else:
                pairs.append((name, item.get("value", "")))
        button = _button(form)
        if button is not None and button.get("name"):
            pairs.append((button["name"], button.get("value", "")))
        action = urljoin(page.url, form.action or page.url)
        headers = {"Origin": self.client.origin, "Referer": page.url}
        if form.method == "post":
            return self._go("POST", action, pairs, headers)
        split = urlsplit(action)
        return self._go("GET", split._replace(query=urlencode(pairs)).geturl(), None, headers)

    def _go(
        self, method: str, url: str, form: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None
    ) -> Exchange:
        split = urlsplit(url)
        if f"{split.scheme}://{split.netloc}" != self.client.origin:
            raise SignInFailed(
                f"the sign-in goes to another origin ({split.scheme}://{split.netloc}); the runner sends "
                "the password only to the target"
            )
        sent = {**_HTML, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        target = split.path or "/"
        answer = self.client.fetch(method, target + (f"?{split.query}" if split.query else ""), form=form,
                                   headers=sent)
        for key, value in answer.response_headers:
            if key.lower() == "set-cookie":
                self._keep(value)
        return answer

    def _keep(self, header: str) -> None:
        try:
            jar = SimpleCookie(header)
        except CookieError:
            return
        for name, morsel in jar.items():
            if morsel.value == "" or morsel["max-age"] in ("0", "-1"):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value


def _parse(answer: Exchange) -> list[_Form]:
    page = _Page()
    page.feed(answer.response_body.decode("utf-8", "replace"))
    return page.forms


def _button(form: _Form) -> dict[str, str] | None:
    """The submit button a person would press: the allowing one, never the denying one."""
    def words(button: dict[str, str]) -> str:
        return " ".join(button.get(a, "") for a in ("name", "value", "text", "id")).lower()

    neutral = [b for b in form.buttons if not any(w in words(b).split() for w in _DENY)]
    allowing = [b for b in neutral if any(w in words(b) for w in _ALLOW)]
    chosen = allowing or neutral
    return chosen[0] if chosen else None


def _asks_code(form: _Form) -> bool:
    shown = [f for f in form.fields if f.get("type", "").lower() in (*_TEXT_TYPES, "number")]
    names = " ".join(f.get("name", "") + " " + f.get("autocomplete", "") for f in shown).lower()
    return any(word in names for word in ("code", "otp", "totp", "one-time"))


def _consent_form(forms: list[_Form]) -> _Form | None:
    """A form with no password to give: a consent page's, by its allow button, or the only form."""
    for form in forms:
        button = _button(form)
        if button is not None and any(w in " ".join(button.values()).lower() for w in _ALLOW[:8]):
            return form
    return forms[0] if len(forms) == 1 else None


def _same_place(url: str, redirect_uri: str) -> bool:
    """Whether `url` is the redirect URI (its query aside): where the sign-in ends."""
    got, wanted = urlsplit(url), urlsplit(redirect_uri)
    return (got.scheme, got.netloc, got.path or "/") == (wanted.scheme, wanted.netloc, wanted.path or "/")


def _where(answer: Exchange) -> str:
    split = urlsplit(answer.url)
    return f"{answer.method} {split.path or '/'}"
