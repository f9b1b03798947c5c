"""The keyboard and the tab, in a real Chromium: "/" to search, j/k and the arrows through the
inbox with the focus visible, Enter to open, Escape back to the inbox; the favicon loads."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_reader_browser import (  # noqa: F401 - fixtures used by name
    assert_accessible,
    dialogs,
    maya,
    sandbox,
    snap,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reader_goes_through_the_inbox_and_back_by_keyboard_alone(
    maya: Page,  # noqa: F811 - the imported fixture
    live_server,
):
    page = maya
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    answer = page.request.get(live_server.url + icon)
    assert answer.ok and answer.headers["content-type"].startswith("image/svg")

    page.keyboard.press("/")
    expect(page.locator("#header-q")).to_be_focused()
    page.keyboard.press("Tab")  # out of the search box: keys work again

    rows = page.locator("a.inbox-row")
    page.locator("body").focus()
    page.keyboard.press("j")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("j")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(2)).to_be_focused()
    page.keyboard.press("k")
    page.keyboard.press("ArrowUp")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("j")
    # The focused row is plainly marked, not by colour alone.
    shadow = rows.nth(1).evaluate("r => getComputedStyle(r).boxShadow")
    assert shadow not in ("", "none"), shadow
    snap(page, "reader-keys-inbox")
    assert_accessible(page, "inbox with a row focused")

    href = rows.nth(1).get_attribute("href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    page.keyboard.press("Escape")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Messages", level=1)).to_be_visible()
