"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

The browser is never downloaded: it is the system's /usr/bin/chromium
(`apt-get install chromium`), or CHROMIUM_PATH. Tests using `page` run on `live_server`, hence in a
transactional database; create their data with the factories, which enter the
account's scope as the application does."""

import os
from pathlib import Path

import pytest

# CI exports CHROMIUM_PATH (.ci/run); Debian's package puts it here.
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"No Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (.ci/run): its absence is a failure
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread while it is
    # started, so Django refuses ORM calls (SynchronousOnlyOperation) in fixtures, tests
    # and the database flush between tests. They are synchronous and never overlap with
    # the loop: allow them for exactly as long as Playwright runs.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 860}, locale="en-US"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
