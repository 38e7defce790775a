"""The pages the authorization and end-session endpoints show a browser: the login page,
an error page, and "signed out". Plain HTML with its CSS inline: no script, nothing
loaded from elsewhere, every value from the request escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

from werkzeug.wrappers import Response

from ..._fixtures import User

# The page may be framed by nobody and load nothing; forms post only to this server.
_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    # Not no-referrer: a form posted under it says Origin: null, which reads as a foreign page.
    ("Referrer-Policy", "same-origin"),
]
# One-click buttons shown on the page; a directory of thousands gets the form alone.
MAX_BUTTONS = 50

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;background:#f3f4f6;color:#111827;margin:0}
main{max-width:26rem;margin:3rem auto;background:#fff;border-radius:10px;padding:1.6rem 1.8rem;
box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem;margin:0 0 .2rem}p.sub{color:#6b7280;margin:0 0 1.2rem}
label{display:block;margin:.7rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #d1d5db;
border-radius:6px;font:inherit}
button{font:inherit;cursor:pointer;border-radius:6px;border:1px solid #d1d5db;background:#fff;padding:.5rem .8rem}
button.primary{background:#2563eb;color:#fff;border-color:#2563eb;width:100%;margin-top:1rem;padding:.6rem}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:6px;padding:.6rem .8rem;margin:0 0 1rem}
.users{margin-top:1.4rem;border-top:1px solid #e5e7eb;padding-top:1rem}
.users h2{font-size:.95rem;margin:0 0 .5rem}
.users button{display:flex;justify-content:space-between;width:100%;margin:.3rem 0;text-align:left}
.badge{font-size:.75rem;border-radius:999px;padding:.05rem .5rem;background:#e5e7eb;color:#374151}
.badge.locked,.badge.disabled{background:#fee2e2;color:#991b1b}
.scopes{color:#374151;font-size:.9rem}.mock{color:#9ca3af;font-size:.8rem;margin-top:1.2rem}
"""


def _document(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}<p class=mock>mockauth: a mock identity provider for tests.</p>"
        "</main></body></html>"
    ).encode()


def page_response(content: bytes, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(content, status, [*_HEADERS, *headers], content_type="text/html; charset=utf-8")


def login_page(
    *,
    action: str,
    client_name: str,
    scopes: Sequence[str],
    hidden: Mapping[str, str],
    users: Iterable[User],
    one_click: bool,
    username: str = "",
    message: str | None = None,
) -> bytes:
    """The sign-in form, with one button per fixture user when one-click sign-in is on."""
    fields = "".join(
        f'<input type=hidden name="{escape(name)}" value="{escape(value)}">' for name, value in hidden.items()
    )
    error = f'<p class=error role=alert id=error>{escape(message)}</p>' if message else ""
    wanted = f'<p class=scopes>It asks for: {escape(" ".join(scopes))}</p>' if scopes else ""
    body = (
        f"<h1>Sign in</h1><p class=sub>to continue to <b id=client>{escape(client_name)}</b></p>{error}"
        f'<form method=post action="{escape(action)}" id=login>{fields}'
        f'<label for=username>Username or email</label>'
        f'<input type=text id=username name=username value="{escape(username)}" autocomplete=username autofocus>'
        f'<label for=password>Password</label>'
        f'<input type=password id=password name=password autocomplete=current-password>'
        f"<button class=primary type=submit id=submit>Sign in</button>{wanted}</form>"
    )
    if one_click:
        buttons = []
        for user in list(users)[:MAX_BUTTONS]:
            # As the dashboard shows them: what the sign-in will meet (a second step too).
            badges = [flag for flag in ("locked", "disabled") if getattr(user, flag)]
            badges += ["mfa"] if user.mfa else []
            badges += ["password expired"] if user.password_expired else []
            badges += [f"mode {user.mode}"] if user.mode else []
            shown = "".join(f'<span class="badge {escape(b.split()[0])}">{escape(b)}</span>' for b in badges)
            buttons.append(
                f'<button type=submit name=one_click value="{escape(user.username)}" '
                f'data-user="{escape(user.username)}"><span>{escape(user.username)}</span>{shown}</button>'
            )
        if buttons:
            body += (
                f'<form method=post action="{escape(action)}" class=users id=one-click>{fields}'
                "<h2>Or sign in as a test user (one click)</h2>" + "".join(buttons) + "</form>"
            )
    return _document("Sign in", body)


def message_page(title: str, message: str, *, error: str | None = None) -> bytes:
    """A page that only says something: an error the client cannot be told of, or "signed out"."""
    code = f"<p class=sub>Error: <code id=error-code>{escape(error)}</code></p>" if error else ""
    return _document(title, f"<h1>{escape(title)}</h1><p id=message>{escape(message)}</p>{code}")


# What each challenge asks, and the field its answer goes in (kinds of State.challenges).
_STEPS = {
    "mfa": ("Enter your one-time code", "code", "text", "one-time-code",
            "The 6-digit code of your authenticator app."),
    "password": ("Choose a new password", "new_password", "password", "new-password",
                 "Your password has expired."),
}


def challenge_page(
    *,
    action: str,
    client_name: str,
    hidden: Mapping[str, str],
    kind: str,
    token_field: str,
    token: str,
    rule: str = "",
    message: str | None = None,
) -> bytes:
    """The second step of a sign-in: a one-time code, or a new password."""
    title, field, input_type, autocomplete, why = _STEPS[kind]
    fields = "".join(
        f'<input type=hidden name="{escape(name)}" value="{escape(value)}">'
        for name, value in {**hidden, token_field: token}.items()
    )
    error = f'<p class=error role=alert id=error>{escape(message)}</p>' if message else ""
    explained = f"{why} {rule}".strip()
    body = (
        f"<h1>{escape(title)}</h1><p class=sub>to continue to <b id=client>{escape(client_name)}</b></p>{error}"
        f'<form method=post action="{escape(action)}" id=challenge data-kind="{escape(kind)}">{fields}'
        f"<label for={field}>{escape(explained)}</label>"
        f'<input type={input_type} id={field} name={field} autocomplete={autocomplete} autofocus>'
        f"<button class=primary type=submit id=submit>Continue</button></form>"
    )
    return _document(title, body)
