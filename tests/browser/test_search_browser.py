"""Search in a real Chromium: the header box, highlighted results, and a result opening its
conversation at the message with context above and below."""

import re

import pytest
from playwright.sync_api import Page, expect

from conversations import sync
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def maya_page(page: Page, live_server, sandbox):
    sandbox.register_redirect_uri(live_server.url + "/auth/callback/")
    page.goto(live_server.url)
    page.get_by_role("link", name="Sign in with X").click()
    page.get_by_label(re.compile("Maya Okafor")).check()
    page.get_by_role("button", name="Authorize app").click()
    expect(page.get_by_label("Signed in as Maya Okafor")).to_be_visible()
    sync.sync_account(XAccount.objects.get(username="maya_reads").user_id)
    page.reload()
    return page


def message_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#thread [id^=e]", "nodes => nodes.map(n => n.id)")


def test_a_search_result_opens_the_conversation_at_that_message(maya_page: Page, screenshot):
    page = maya_page
    page.get_by_label("Search all messages").fill("ramen")
    page.get_by_label("Search all messages").press("Enter")
    results = page.locator(".search-result-link")
    expect(results.first).to_be_visible()
    expect(results.first.locator("mark")).to_have_text(re.compile("ramen", re.IGNORECASE))
    assert "q=ramen" in page.url  # shareable
    screenshot(page, "search-results")

    target = results.nth(2)
    href = target.get_attribute("href")
    event_id = href.split("#e")[1]
    target.click()
    message = page.locator(f"#e{event_id}")
    expect(message).to_have_class(re.compile("highlight"))
    expect(message).to_be_in_viewport()
    box = message.bounding_box()
    assert box["y"] > 110  # clear of the sticky headers
    screenshot(page, "search-jump")

    # Context on both sides, and more of it as the person scrolls either way.
    before = message_ids(page)
    assert before.index(f"e{event_id}") > 0
    page.mouse.wheel(0, 20000)
    page.wait_for_timeout(400)
    page.mouse.wheel(0, -60000)
    page.wait_for_timeout(400)
    page.mouse.wheel(0, -60000)
    expect(page.locator("#thread [id^=e]")).not_to_have_count(len(before))
    after = message_ids(page)
    assert len(after) == len(set(after))  # nothing twice
    assert set(before) < set(after)

    page.go_back()
    expect(page.get_by_label("Search messages", exact=True)).to_have_value("ramen")


def test_a_malformed_search_explains_itself(maya_page: Page):
    page = maya_page
    page.get_by_label("Search all messages").fill('"unfinished')
    page.get_by_label("Search all messages").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("quote is not closed")


def test_searching_inside_one_conversation(maya_page: Page):
    page = maya_page
    page.locator(".inbox-row").first.click()
    page.get_by_label("Search in this conversation").fill("the")
    page.get_by_label("Search in this conversation").press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Search in "))).to_be_visible()
    assert "in=" in page.url
