"""A real headless Chromium loading the dashboard of `mockauth serve --tls`, trusting
mockauth's local CA through its own certificate store, as a person would (no flag that
ignores certificate errors).

A module of its own: Playwright's sync API runs one instance a thread at a time, and
tests/test_browser.py keeps one open for its whole module.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from frontend_support import CHROMIUM_ARGS, certutil, chromium, mockauth_serve, wait_for

pytestmark = pytest.mark.browser


def nss_home(folder: Path, trusted_ca: str | None) -> Path:
    """A home folder whose NSS certificate store (the one Chromium reads on Linux, as
    mkcert uses it) trusts `trusted_ca` to identify web sites."""
    database = folder / ".pki" / "nssdb"
    database.mkdir(parents=True)
    tool = certutil()
    subprocess.run([tool, "-d", f"sql:{database}", "-N", "--empty-password"], check=True, capture_output=True)
    if trusted_ca is not None:
        subprocess.run(
            [tool, "-d", f"sql:{database}", "-A", "-t", "C,,", "-n", "mockauth local CA", "-i", trusted_ca],
            check=True, capture_output=True,
        )
    return folder


def test_the_dashboard_over_https_with_the_ca_trusted_by_chromium(tmp_path: Path) -> None:
    """`mockauth serve --tls`, its CA added to Chromium's own certificate store with the
    certutil line the banner prints; no flag tells Chromium to ignore certificate errors."""
    path = chromium()
    from playwright.sync_api import Error, expect, sync_playwright

    with mockauth_serve("--tls") as served, sync_playwright() as playwright:
        wait_for(lambda: "dashboard:" in "".join(served.stdout), "the banner")
        ca = re.search(r"CA certificate to trust .*: (\S+)", "".join(served.stdout))
        assert ca, served.output()
        dashboard = served.url.replace("127.0.0.1", "localhost") + "/_mockauth/"
        assert not any("ignore-certificate" in arg for arg in CHROMIUM_ARGS)

        home = nss_home(tmp_path / "trusting", ca.group(1))
        browser = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            response = page.goto(dashboard)
            assert response is not None and response.status == 200
            assert page.evaluate("window.isSecureContext") is True
            # The dashboard's own calls to the control API, over HTTPS too.
            expect(page.locator("#users")).to_contain_text("user@example.com", timeout=15_000)
            login = page.evaluate(
                """async () => (await fetch("/auth/login", {method: "POST",
                    body: new URLSearchParams({username: "admin", password: "adminpassword"})})).status"""
            )
            assert login == 200
            expect(page.locator("#journal")).to_contain_text("/auth/login", timeout=15_000)
            assert errors == []
        finally:
            browser.close()

        # The same browser with a store that does not know the CA refuses the page.
        home = nss_home(tmp_path / "untrusting", None)
        browser = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        try:
            with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
                browser.new_page().goto(dashboard)
        finally:
            browser.close()
    assert "Traceback" not in served.output()
