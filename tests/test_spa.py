"""A single-page app (examples/spa: oidc-client-ts, authorization code flow with PKCE)
signs in against `mockauth serve` in a real headless Chromium: the redirect to the login
page, a click on it, the code exchanged from the page's own origin, userinfo and
/auth/me called with the token, a refresh, a sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from frontend_support import ROOT, chromium_browser, mockauth_serve, static_server

pytestmark = pytest.mark.browser

SPA = ROOT / "examples" / "spa"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with mockauth_serve() as served, static_server(SPA) as origin:
        yield served.url, origin


@pytest.fixture
def page(browser: Any, servers: tuple[str, str]) -> Iterator[Any]:
    mock, _ = servers
    requests.post(f"{mock}/_mockauth/reset", timeout=10).raise_for_status()
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def journal(mock: str) -> list[tuple[str, str | None, int]]:
    entries = requests.get(f"{mock}/_mockauth/journal", timeout=10).json()["entries"]
    return [(e["method"], e["operation"], e["status"]) for e in entries if e["method"] != "OPTIONS"]


def sign_in_page(page: Any, servers: tuple[str, str]) -> None:
    mock, origin = servers
    page.goto(f"{origin}/index.html?mock={mock}")
    page.click("#sign-in")
    page.wait_for_url(f"{mock}/oauth/authorize?*")  # the mock's login page, not the app


def test_the_spa_signs_in_with_pkce_through_the_login_page(page: Any, servers: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    mock, origin = servers
    sign_in_page(page, servers)
    expect(page.locator("#client")).to_have_text("Demo single-page app")
    page.click('button[data-user="user@example.com"]')
    expect(page.locator("#who")).to_have_text("Signed in as user@example.com")
    assert page.url == f"{origin}/index.html"  # the code left the address bar
    expect(page.locator("#userinfo")).to_contain_text('"email": "user@example.com"')
    expect(page.locator("#me")).to_contain_text('"name": "Example User"')
    calls = journal(mock)
    assert calls[:1] == [("GET", "openid_configuration", 200)]
    assert [c for c in calls if c[1] in ("authorize", "authorize_login", "token")] == [
        ("GET", "authorize", 200), ("POST", "authorize_login", 303), ("POST", "token", 200),
    ]
    assert ("GET", "userinfo", 200) in calls and ("GET", "me", 200) in calls
    token_call = requests.get(f"{mock}/_mockauth/journal?operation=token", timeout=10).json()["entries"][0]
    assert token_call["params"]["grant_type"] == "authorization_code"
    assert token_call["params"]["code_verifier"] == "[redacted]"

    page.click("#refresh")  # oidc-client-ts spends its refresh token
    expect(page.locator("#who")).to_have_text("Signed in as user@example.com")
    refreshes = requests.get(f"{mock}/_mockauth/journal?operation=token", timeout=10).json()["entries"]
    assert [e["params"]["grant_type"] for e in refreshes] == ["authorization_code", "refresh_token"]

    page.click("#sign-out")  # RP-initiated logout, back to the app signed out
    expect(page.locator("#sign-in")).to_be_visible()
    assert ("GET", "end_session", 302) in journal(mock)
    # The mock's session ended too: the next sign-in shows the login page again.
    sign_in_page(page, servers)
    expect(page.locator("#login")).to_be_visible()


def test_the_login_page_shows_what_a_real_server_would(page: Any, servers: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    mock, _ = servers
    sign_in_page(page, servers)
    page.fill("#username", "user@example.com")
    page.fill("#password", "wrong")
    page.click("#submit")
    expect(page.locator("#error")).to_have_text("The username or password is incorrect.")
    expect(page.locator("#username")).to_have_value("user@example.com")
    page.click('button[data-user="locked@example.com"]')
    expect(page.locator("#error")).to_have_text("The account is locked.")
    # A mode armed on the mock shows on the page as the server's own answer would.
    requests.post(
        f"{mock}/_mockauth/modes", json={"name": "invalid_credentials", "operation": "authorize_login", "times": 1},
        timeout=10,
    ).raise_for_status()
    page.click('button[data-user="admin"]')
    expect(page.locator("#error")).to_have_text("The username or password is incorrect.")
    page.fill("#username", "admin")
    page.fill("#password", "adminpassword")
    page.click("#submit")
    expect(page.locator("#who")).to_have_text("Signed in as admin")


def test_an_outage_goes_back_to_the_app_as_an_oauth_error(page: Any, servers: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    mock, origin = servers
    requests.post(
        f"{mock}/_mockauth/modes", json={"name": "unavailable", "operation": "authorize", "times": 1}, timeout=10
    ).raise_for_status()
    page.goto(f"{origin}/index.html?mock={mock}")
    page.click("#sign-in")
    expect(page.locator("#error")).to_contain_text("temporarily_unavailable")
    expect(page.locator("#sign-in")).to_be_visible()


def test_the_dashboard_lists_clients_and_issues_client_credentials_tokens(page: Any, servers: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    mock, _ = servers
    page.goto(f"{mock}/_mockauth/")
    expect(page.locator("#clients [data-client]")).to_have_count(2)
    confidential = page.locator('#clients [data-client="demo-client"]')
    expect(confidential).to_contain_text("confidential")
    expect(confidential.locator("code")).to_have_text(
        f"curl -X POST {mock}/oauth/token -u demo-client:demo-secret -d grant_type=client_credentials"
    )
    expect(page.locator('#clients [data-client="demo-spa"]')).to_contain_text("PKCE S256")
    confidential.locator("button.issue-client").click()
    expect(page.locator("#token-verdict")).to_contain_text("Valid now")
    expect(page.locator("#token-claims")).to_contain_text('"sub": "demo-client"')


def test_the_readme_shows_the_spa_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "```js\n// examples/spa/app.js\n" + (SPA / "app.js").read_text() + "```" in readme
