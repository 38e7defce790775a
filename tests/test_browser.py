"""A real headless Chromium: the example login page on one origin, `mockauth serve` on
another, and the dashboard driving failures by clicks.

Playwright drives Debian's chromium (never a downloaded browser); the static page is
served from a second loopback port, so every call it makes is a cross-origin one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from frontend_support import (
    EXAMPLE,
    ROOT,
    chromium_browser,
    mockauth_serve,
    static_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with mockauth_serve() as served, static_server(EXAMPLE) as page_origin:
        yield served.url, page_origin


class Pages:
    """The example app and the dashboard, each in its own window, JavaScript errors kept."""

    def __init__(self, browser: Any, mock: str, origin: str) -> None:
        self.mock = mock
        self.origin = origin
        # Two windows, not two tabs: a background tab gets no animation frames, and
        # every click there would wait for one.
        self.contexts = [browser.new_context(viewport={"width": 1360, "height": 1000}) for _ in range(2)]
        self.errors: list[str] = []
        self.app = self.contexts[0].new_page()
        self.dashboard = self.contexts[1].new_page()
        for page in (self.app, self.dashboard):
            page.on("pageerror", lambda error: self.errors.append(str(error)))
        requests.post(f"{mock}/_mockauth/reset", timeout=10).raise_for_status()
        self.dashboard.goto(f"{mock}/_mockauth/")
        self.open_app()

    def open_app(self) -> None:
        self.app.goto(f"{self.origin}/index.html?mock={self.mock}")

    def sign_in(self) -> None:
        self.app.click("#login")

    def arm(self, mode: str, *, operation: str = "", user: str = "", times: str = "1", **options: str) -> None:
        """Arm a mode the way a person does: fill its card on the dashboard and click Arm."""
        from playwright.sync_api import expect

        card = self.dashboard.locator(f'article.mode[data-mode="{mode}"]')
        card.locator("select[name=operation]").select_option(operation)
        card.locator("select[name=user]").select_option(user)
        card.locator("input[name=times]").fill(times)
        for name, value in options.items():
            card.locator(f"input[name={name}]").fill(value)
        card.locator("button.arm").click()
        expect(self.dashboard.locator(f'#armed li[data-mode="{mode}"][data-source=api]')).to_have_count(1)

    def journal(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.mock}/_mockauth/journal", timeout=10)
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()["entries"]
        return entries

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        assert not self.errors, f"JavaScript errors on the pages: {self.errors}"


@pytest.fixture
def pages(browser: Any, servers: tuple[str, str]) -> Iterator[Pages]:
    opened = Pages(browser, *servers)
    yield opened
    opened.close()


def test_example_page_logs_in_from_another_origin(pages: Pages) -> None:
    from playwright.sync_api import expect

    assert pages.origin != pages.mock
    pages.sign_in()
    expect(pages.app.locator("#signed-in")).to_have_text("Signed in as user@example.com")
    expect(pages.app.locator("#me")).to_contain_text('"name": "Example User"')
    calls = [(e["method"], e["path"], e["status"]) for e in pages.journal()]
    # The Authorization header made the browser ask first: the preflight, then the call.
    assert calls == [
        ("POST", "/auth/login", 200),
        ("OPTIONS", "/auth/me", 204),
        ("GET", "/auth/me", 200),
    ]
    # The dashboard's journal shows them without a reload.
    expect(pages.dashboard.locator("#journal tbody tr")).to_have_count(3)
    expect(pages.dashboard.locator('#journal tr[data-operation="me"]')).to_contain_text("user@example.com")


def test_the_page_can_ask_for_a_failure_with_the_mode_header(pages: Pages) -> None:
    from playwright.sync_api import expect

    pages.app.select_option("#ask-mode", "unavailable")
    pages.sign_in()
    expect(pages.app.locator("#error")).to_contain_text("HTTP 503 temporarily_unavailable")
    # X-Mockauth-Mode is not a simple header: the browser asked first, and was allowed.
    calls = [(e["method"], e["path"], e["status"], e["modes"]) for e in pages.journal()]
    assert calls == [
        ("OPTIONS", "/auth/login", 204, []),
        ("POST", "/auth/login", 503, ["unavailable"]),
    ]


def test_mode_armed_on_the_dashboard_shows_on_the_page(pages: Pages) -> None:
    from playwright.sync_api import expect

    pages.sign_in()
    expect(pages.app.locator("#signed-in")).to_be_visible()
    pages.arm("rate_limited", operation="me", times="1", retry_after="7")
    pages.app.click("#call-me")
    error = pages.app.locator("#error")
    expect(error).to_contain_text("HTTP 429 rate_limited")
    expect(error).to_contain_text("Retry after 7 s.")  # read from an exposed header
    # times=1: spent, and gone from the dashboard by itself; the next call succeeds.
    expect(pages.dashboard.locator("#armed li[data-mode=rate_limited]")).to_have_count(0)
    pages.app.click("#call-me")
    expect(error).to_be_hidden()
    expect(pages.app.locator("#log")).to_contain_text("/auth/me: user@example.com")


def test_clock_advanced_on_the_dashboard_makes_the_page_refresh(pages: Pages) -> None:
    from playwright.sync_api import expect

    pages.sign_in()
    expect(pages.app.locator("#signed-in")).to_be_visible()
    pages.dashboard.click("#expire-tokens")
    expect(pages.dashboard.locator("#clock-status")).to_contain_text("ahead of real time")
    pages.app.click("#call-me")
    log = pages.app.locator("#log")
    expect(log).to_contain_text("refreshed the access token; retrying /auth/me")
    expect(pages.app.locator("#error")).to_be_hidden()
    calls = [(e["method"], e["operation"], e["status"], e["error"]) for e in pages.journal()]
    assert ("GET", "me", 401, "token_expired") in calls
    assert ("POST", "refresh", 200, None) in calls
    assert calls[-1] == ("GET", "me", 200, None)


# mode -> how it is armed from its card, and what the page must show for it.
EVERY_MODE: dict[str, tuple[dict[str, str], str]] = {
    "invalid_credentials": ({"operation": "login"}, "HTTP 401 invalid_credentials"),
    "expired_token": ({"operation": "login"}, "refreshed the access token"),
    "invalid_token": ({"operation": "me"}, "HTTP 401 invalid_token"),
    "account_locked": ({"user": "user@example.com"}, "HTTP 403 account_locked"),
    "account_disabled": ({"operation": "login"}, "HTTP 403 account_disabled"),
    "rate_limited": ({"operation": "me"}, "Retry after 30 s."),
    "server_error": ({"operation": "login"}, "HTTP 500 server_error"),
    "unavailable": ({"operation": "login"}, "HTTP 503 temporarily_unavailable"),
    "slow": ({"operation": "login", "delay": "0.8"}, "/auth/login took"),
    "malformed_response": ({"operation": "login"}, "HTTP 200 malformed_response"),
    "incomplete_response": ({"operation": "login"}, "HTTP 200 incomplete_response"),
    # No times: a browser may retry a request whose connection dropped, once.
    "disconnect": ({"operation": "login", "times": ""}, "network_error"),
    "mfa_required": ({"operation": "login"}, "the mock asks for a one-time code"),
    "password_expired": ({"user": "user@example.com"}, "choose a new password"),
}


def test_every_mode_armed_on_the_dashboard_reaches_the_page(pages: Pages) -> None:
    from playwright.sync_api import expect

    from mockauth import MODES

    assert set(EVERY_MODE) == set(MODES)
    for mode, (scope, shown) in EVERY_MODE.items():
        pages.open_app()
        scope = dict(scope)
        if scope.get("operation") == "me":
            pages.sign_in()
            expect(pages.app.locator("#signed-in")).to_be_visible()
        pages.arm(mode, **scope)
        if scope.get("operation") == "me":
            pages.app.click("#call-me")
        else:
            pages.sign_in()
        where = "#log" if mode in ("expired_token", "slow", "mfa_required", "password_expired") else "#error"
        expect(pages.app.locator(where), f"mode {mode}").to_contain_text(shown)
        if mode == "disconnect":
            pages.dashboard.locator("#armed li[data-mode=disconnect] button.disarm").click()
            expect(pages.dashboard.locator("#armed li[data-mode=disconnect]")).to_have_count(0)
        # Spent (times=1) or disarmed: nothing armed from the dashboard is left over.
        armed = requests.get(f"{pages.mock}/_mockauth/modes", timeout=10).json()["armed"]
        assert [a["name"] for a in armed if a["source"] == "api"] == [], mode


def test_the_page_passes_both_challenge_screens(pages: Pages) -> None:
    from playwright.sync_api import expect

    app, error = pages.app, pages.app.locator("#error")
    # A one-time code: read off the dashboard, as a person testing the page would.
    app.fill("#username", "mfa@example.com")
    pages.sign_in()
    expect(app.locator("#mfa-form")).to_be_visible()
    expect(app.locator("#login-form")).to_be_hidden()
    app.fill("#code", "000000")
    app.click("#verify")
    expect(error).to_contain_text("HTTP 401 invalid_mfa_code")
    expect(error).to_contain_text("4 attempts left")
    code = pages.dashboard.locator('.user[data-user="mfa@example.com"] .otp b')
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    expect(pages.dashboard.locator('.user[data-user="mfa@example.com"] .otp-left')).to_contain_text("s left")
    app.fill("#code", code.inner_text())
    app.click("#verify")
    expect(app.locator("#signed-in")).to_have_text("Signed in as mfa@example.com")
    expect(error).to_be_hidden()
    app.click("#logout")
    expect(app.locator("#login-form")).to_be_visible()
    # An expired password: the policy shown, a weak one refused, a new one taken.
    app.fill("#username", "expired@example.com")
    pages.sign_in()
    expect(app.locator("#password-form")).to_be_visible()
    expect(app.locator("#policy")).to_have_text("It needs at least 8 characters.")
    app.fill("#new-password", "short")
    app.click("#change-password")
    expect(error).to_contain_text("HTTP 400 weak_password")
    expect(error).to_contain_text("at least 8 characters")
    app.fill("#new-password", "a-brand-new-password")
    app.click("#change-password")
    expect(app.locator("#signed-in")).to_have_text("Signed in as expired@example.com")
    # A challenge mode for a user that has none, asked for with the header: code 123456.
    app.click("#logout")
    app.fill("#username", "user@example.com")
    app.select_option("#ask-mode", "mfa_required")
    pages.sign_in()
    app.fill("#code", "123456")
    app.click("#verify")
    expect(app.locator("#signed-in")).to_have_text("Signed in as user@example.com")
    calls = [(e["operation"], e["status"], e["error"]) for e in pages.journal() if e["method"] == "POST"]
    assert calls == [
        ("login", 403, "mfa_required"), ("mfa", 401, "invalid_mfa_code"), ("mfa", 200, None), ("logout", 204, None),
        ("login", 403, "password_expired"), ("password", 400, "weak_password"), ("password", 200, None),
        ("logout", 204, None), ("login", 403, "mfa_required"), ("mfa", 200, None),
    ]
    form = {"username": "expired@example.com", "password": "secretpassword"}
    assert requests.post(f"{pages.mock}/auth/login", data=form, timeout=10).status_code == 401
    form["password"] = "a-brand-new-password"
    assert requests.post(f"{pages.mock}/auth/login", data=form, timeout=10).status_code == 200


def test_dashboard_screenshot(pages: Pages, tmp_path: Path) -> None:
    """The picture in the README, taken from a dashboard in use. MOCKAUTH_SCREENSHOT=1
    writes it to docs/dashboard.png; otherwise it lands in a temporary folder."""
    from playwright.sync_api import expect

    pages.sign_in()
    expect(pages.app.locator("#signed-in")).to_be_visible()
    pages.arm("unavailable", operation="refresh", times="3")
    pages.dashboard.click("#expire-tokens")
    # The clock moves when the dashboard's call returns: wait for it, as the page's
    # /auth/me must not overtake it (it did, under load).
    expect(pages.dashboard.locator("#clock-status")).to_contain_text("ahead of real time")
    pages.app.click("#call-me")
    expect(pages.app.locator("#error")).to_contain_text("HTTP 503 temporarily_unavailable")
    pages.dashboard.click("#issue")
    expect(pages.dashboard.locator("#token-verdict")).to_contain_text("Valid now")
    expect(pages.dashboard.locator('#journal tr[data-operation="refresh"]')).to_contain_text("503")
    target = ROOT / "docs" / "dashboard.png" if os.environ.get("MOCKAUTH_SCREENSHOT") else tmp_path / "dashboard.png"
    target.parent.mkdir(exist_ok=True)
    pages.dashboard.locator("#toast").evaluate("node => node.remove()")
    pages.dashboard.screenshot(path=str(target), full_page=True)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == 1360


def test_the_dashboard_says_when_a_number_it_was_given_is_none(pages: Pages) -> None:
    from playwright.sync_api import expect

    dashboard = pages.dashboard
    clock = requests.get(f"{pages.mock}/_mockauth/clock", timeout=10).json()
    for field, button in (("#issue-expires", "#issue"), ("#advance-seconds", "#advance")):
        # Typed, as a person does: Chromium cannot read it and leaves the value empty.
        dashboard.fill(field, "")
        dashboard.locator(field).press_sequentially("1e400")
        dashboard.click(button)
        expect(dashboard.locator("#toast")).to_contain_text("Type a ")
        expect(dashboard.locator("#toast")).to_have_class(re.compile("error"))
        dashboard.fill(field, "")
    # Nothing was sent: no token issued with the default lifetime, the clock where it was.
    assert dashboard.input_value("#token-input") == ""
    after = requests.get(f"{pages.mock}/_mockauth/clock", timeout=10).json()
    assert after["offset"] == pytest.approx(clock["offset"], abs=1)


def test_a_broken_fixture_edit_shows_on_the_dashboard_until_fixed(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    fixtures = tmp_path / "users.yaml"
    good = "users:\n  - {username: ann@example.com, password: annpassword}\n"
    fixtures.write_text(good)
    with mockauth_serve("--watch", "--fixtures", str(fixtures)) as served:
        context = browser.new_context()
        try:
            dashboard = context.new_page()
            dashboard.goto(f"{served.url}/_mockauth/")
            banner = dashboard.locator("#fixture-error")
            expect(dashboard.locator('.user[data-user="ann@example.com"]')).to_be_visible()
            expect(banner).to_be_hidden()
            fixtures.write_text(good + "  - {username: bob, password: [not, text]}\n")
            expect(banner).to_contain_text("users[1] (bob): password: must be a non-empty string")
            expect(banner).to_contain_text("still serving the last good users")
            # Fixed, with a password a shell would trip on: the curl line quotes it.
            fixtures.write_text(good + """  - {username: bob, password: "bob's pass&word"}\n""")
            expect(banner).to_be_hidden()
            expect(dashboard.locator('.user[data-user="bob"] code')).to_contain_text("--data-urlencode")
            lines = dashboard.locator(".user code").all_inner_texts()
        finally:
            context.close()
        # Each line works as pasted into a shell.
        if not shutil.which("curl"):
            if os.environ.get("CI"):
                pytest.fail("curl is missing")
            pytest.skip("no curl on PATH")
        assert len(lines) == 2
        for line in lines:
            done = subprocess.run(
                ["bash", "-c", line + " --silent --show-error"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert '"access_token"' in done.stdout, (line, done.stdout, done.stderr)
