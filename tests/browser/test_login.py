"""Signing in to the back office in a real browser, and creating an API key there."""

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = Path(tempfile.gettempdir()) / "backoffice.png"  # looked at by people


def sign_in(page, user):
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_shows_the_account_and_the_navigation(page, user, account):
    sign_in(page, user)

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")
    expect(page.locator(".topbar")).to_contain_text("Acme")
    expect(page.locator(".topbar")).to_contain_text(user.username)

    nav = page.get_by_role("navigation", name="Main")
    for label in ["Clients", "Import", "Segments", "Campaigns", "Leads", "Loyalty", "Dashboard"]:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    # Every section is built: none is left disabled.
    expect(nav.locator('[aria-disabled="true"]')).to_have_count(0)
    expect(nav.get_by_role("link", name="API keys")).to_have_attribute(
        "href", "/settings/api-keys/"
    )
    expect(nav.get_by_role("link", name="Admin")).to_have_attribute("href", "/admin/")


def test_create_an_api_key_and_read_its_secret_once(page, user, account, live_server):
    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")

    page.get_by_label("Name").fill("Web shop sync")
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Create key").click()

    secret = page.locator("#new-key-secret").inner_text().strip()
    assert re.fullmatch(r"crm_live_[A-Za-z0-9_-]{20,}", secret)
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    expect(page.get_by_role("cell", name="Web shop sync", exact=True)).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)

    answer = page.request.get(
        f"{live_server.url}/api/v1/account/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status == 200
    assert answer.json()["slug"] == "acme"

    page.goto("/settings/api-keys/")  # the secret is gone for good
    expect(page.locator("#new-key-secret")).to_have_count(0)
    assert secret not in page.content()


def test_log_out_returns_to_the_sign_in_page(page, user, account):
    sign_in(page, user)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
