"""Message runs as X draws them, in a real Chromium: no names in a one-to-one, a sender's name once
per run in a group, a time per run whose full date shows on hover (title) and on keyboard focus."""

import re

import pytest
from playwright.sync_api import Page, expect

from conversations.models import Conversation
from tests.browser.test_reader_browser import (  # noqa: F401 - fixtures used by name
    THEO,
    assert_accessible,
    dialogs,
    maya,
    richest_group,
    sandbox,
    snap,
)

pytestmark = pytest.mark.django_db(transaction=True)

FULL_DATE = re.compile(r"^\w+day \d{1,2} \w+ \d{4}, \d\d:\d\d$")


def test_runs_show_names_only_in_groups_and_one_time_each_with_the_full_date_on_focus(
    maya: Page,  # noqa: F811 - the imported fixture
    live_server,
):
    page = maya
    page.goto(f"{live_server.url}/c/{THEO}/")
    messages = page.locator("#thread article.msg")
    expect(messages.first).to_be_attached()
    expect(page.locator("#thread .sender")).to_have_count(0)  # a one-to-one names no one
    times = page.locator("#thread time.msg-time")
    assert 0 < times.count() < messages.count()
    expect(page.locator("#thread .msg-group.mine article.msg").first).to_have_attribute(
        "aria-label", "Your message"
    )

    last = times.last
    expect(last).to_have_attribute("title", FULL_DATE)
    page.keyboard.press("Tab")  # a keyboard in use: focus() below shows as :focus-visible
    last.focus()
    expect(last).to_be_focused()
    shown = last.evaluate("t => getComputedStyle(t, '::after').content")
    assert FULL_DATE.match(shown.strip('"')), shown
    snap(page, "reader-runs-one-to-one")
    assert_accessible(page, "one-to-one with runs")

    owner = Conversation.objects.get(x_id=THEO).owner_id
    group = richest_group(owner)
    page.goto(f"{live_server.url}/c/{group.x_id}/")
    runs = page.locator("#thread .msg-group:not(.mine)")
    expect(runs.first).to_be_attached()
    # Each run of someone else's messages is named once; my own never are.
    assert runs.count() == page.locator("#thread .msg-group:not(.mine) .sender-name").count()
    expect(page.locator("#thread .msg-group.mine .sender")).to_have_count(0)
    snap(page, "reader-runs-group")
    assert_accessible(page, "group with runs")
    page.emulate_media(color_scheme="dark")
    snap(page, "reader-runs-group-dark")
    assert_accessible(page, "group with runs in dark mode")
