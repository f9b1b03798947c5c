"""Signing in with X in a real Chromium: the app, the sandbox's consent page, and back."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app_url(live_server, sandbox):
    sandbox.register_redirect_uri(live_server.url + "/auth/callback/")
    return live_server.url


def _seen(page: Page, event: str, keep) -> list[str]:
    """What `keep` makes of each of the page's `event`s, where it makes something."""
    seen: list[str] = []
    page.on(event, lambda item: seen.append(kept) if (kept := keep(item)) else None)
    return seen


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    return _seen(page, "console", lambda m: m.text if "Content Security Policy" in m.text else "")


@pytest.fixture
def failed_responses(page: Page) -> list[str]:
    return _seen(page, "response", lambda r: f"{r.status} {r.url}" if r.status >= 400 else "")


def test_a_person_signs_in_with_x_and_lands_on_their_account(
    page: Page, app_url, screenshot, csp_violations, failed_responses
):
    page.goto(app_url)
    screenshot(page, "welcome")
    page.get_by_role("link", name="Sign in with X").click()

    expect(
        page.get_by_role("heading", name=re.compile("wants to access your X account"))
    ).to_be_visible()
    expect(page.get_by_text("See all your Direct Messages.")).to_be_visible()
    page.get_by_label(re.compile("Maya Okafor")).check()
    screenshot(page, "consent")
    page.get_by_role("button", name="Authorize app").click()

    chip = page.get_by_label("Signed in as Maya Okafor")
    expect(chip).to_contain_text("Maya Okafor")
    expect(chip).to_contain_text("@maya_reads")
    avatar = chip.locator("img.avatar")
    expect(avatar).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle()
    )
    screenshot(page, "signed-in")
    assert csp_violations == []
    assert failed_responses == []  # nothing the pages asked for was missing or refused

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in with X")).to_be_visible()


def test_cancelling_on_the_consent_page_explains_and_offers_to_retry(
    page: Page, app_url, screenshot
):
    page.goto(app_url + "/auth/login/")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="You cancelled the sign-in")).to_be_visible()
    screenshot(page, "signin-cancelled")
    page.get_by_role("link", name="Try signing in again").click()
    expect(page.get_by_role("button", name="Authorize app")).to_be_visible()
