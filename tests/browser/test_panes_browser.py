"""Two panes and what is new, in a real Chromium: from 1024 px an inbox row opens its thread beside
the inbox without a page load (the URL follows, back and forward and a reload land where they
should, the inbox keeps its scroll and marks the open row), the "New" line and bold row for what
arrived since the last visit, Jump to latest, and a phone's one pane with one compact header;
axe-core and screenshots in light and dark at 1280 and 390 px."""

import re

import pytest
from playwright.sync_api import Page, expect

from conversations import sync
from conversations.models import Conversation, DmEvent, SyncState
from dmreader.models import XAccount
from tests.browser.test_reader_browser import (  # noqa: F401 - fixtures used by name
    THEO,
    assert_accessible,
    assert_fits_the_width,
    dialogs,
    maya,
    script_errors,
    snap,
)
from tests.sandbox import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(tmp_path_factory.mktemp("panes-browser-sandbox")).start()
    yield server
    server.stop()


def both_modes(page: Page, name: str) -> None:
    """A screenshot and axe-core in light, then dark, back to light."""
    snap(page, name)
    assert_accessible(page, name)
    page.emulate_media(color_scheme="dark")
    snap(page, f"{name}-dark")
    assert_accessible(page, f"{name} in dark mode")
    page.emulate_media(color_scheme="light")


def row(page: Page, x_id: str):
    return page.locator(f'a.inbox-row[href="/c/{x_id}/"]')


def title_of(page: Page, x_id: str) -> str:
    return row(page, x_id).locator(".inbox-title").inner_text()


def inbox_scroll(page: Page) -> float:
    return page.locator(".inbox-pane").evaluate("pane => pane.scrollTop")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.notReloaded === true")


def test_a_row_opens_its_thread_beside_the_inbox_and_back_forward_and_reload_follow(
    maya: Page,  # noqa: F811 - the imported fixture
    live_server,
    dialogs,  # noqa: F811
    script_errors,  # noqa: F811
):
    page = maya
    inbox, pane = page.locator(".inbox-pane"), page.locator("#thread-pane")
    expect(page.get_by_text("Choose a conversation to read it here.")).to_be_visible()
    assert inbox.bounding_box()["x"] + inbox.bounding_box()["width"] <= pane.bounding_box()["x"]
    ids = page.eval_on_selector_all(
        "a.inbox-row", "rows => rows.map(r => r.getAttribute('href').split('/')[2])"
    )
    assert len(ids) > 12
    first, second = ids[10], ids[12]

    # The inbox scrolled down in its own column; a row there opens beside it, with no page load.
    inbox.evaluate("pane => { pane.scrollTop = 500; }")
    row(page, first).scroll_into_view_if_needed()
    scrolled = inbox_scroll(page)
    assert scrolled > 0
    page.evaluate("window.notReloaded = true")
    row(page, first).click()
    expect(page).to_have_url(f"{live_server.url}/c/{first}/")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(title_of(page, first))
    expect(page).to_have_title(f"{title_of(page, first)} \u2013 DM Reader")
    assert not_reloaded(page)
    assert inbox_scroll(page) == scrolled
    expect(row(page, first)).to_have_attribute("aria-current", "page")
    expect(inbox).to_be_visible()
    assert page.locator("dialog#lightbox").count() == 1  # one viewer in the shell, not one a thread
    snap(page, "panes-thread")
    assert_accessible(page, "a thread beside the inbox")

    row(page, second).scroll_into_view_if_needed()
    scrolled = inbox_scroll(page)
    # While the next thread is on its way, the one on screen dims: the click was heard.
    waiting = []
    page.route(f"**/c/{second}/", lambda route: waiting.append(route))
    row(page, second).click()
    expect(pane).to_have_class(re.compile(r"\bhtmx-request\b"))
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#thread-pane .conversation')).opacity < 1"
    )
    waiting[0].continue_()
    page.unroute(f"**/c/{second}/")
    expect(page).to_have_url(f"{live_server.url}/c/{second}/")
    assert inbox_scroll(page) == scrolled
    expect(heading).to_have_text(title_of(page, second))
    expect(row(page, second)).to_have_attribute("aria-current", "page")
    expect(row(page, first)).not_to_have_attribute("aria-current", "page")

    # Back and forward: the pane comes back from the server (htmx keeps no copy), the inbox stays.
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/c/{first}/")
    expect(heading).to_have_text(title_of(page, first))
    expect(row(page, first)).to_have_attribute("aria-current", "page")
    assert inbox_scroll(page) == scrolled
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
    page.go_forward()
    expect(page).to_have_url(f"{live_server.url}/c/{second}/")
    expect(heading).to_have_text(title_of(page, second))
    assert not_reloaded(page) and inbox_scroll(page) == scrolled
    page.go_back()
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_text("Choose a conversation to read it here.")).to_be_visible()
    expect(page.locator("a.inbox-row[aria-current]")).to_have_count(0)
    page.go_forward()
    expect(heading).to_have_text(title_of(page, first))

    # Back twice quickly, the first answer slower than the second: the pane shows what the URL
    # names, never the late answer for a page already left.
    row(page, second).click()
    expect(heading).to_have_text(title_of(page, second))
    held = []
    page.route(
        f"**/c/{first}/",
        lambda route: (
            held.append(route)
            if route.request.headers.get("hx-history-restore-request")
            else route.continue_()
        ),
    )
    page.go_back()
    page.wait_for_function("() => true")
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_text("Choose a conversation to read it here.")).to_be_visible()
    assert len(held) == 1
    with page.expect_response(f"**/c/{first}/"):
        held[0].continue_()
    page.wait_for_timeout(300)
    expect(page.get_by_text("Choose a conversation to read it here.")).to_be_visible()
    expect(page.locator("#thread-pane .conversation")).to_have_count(0)
    page.unroute(f"**/c/{first}/")
    page.go_forward()
    expect(heading).to_have_text(title_of(page, first))

    # A reload lands where the reader was: the thread, its row marked and scrolled into view.
    page.reload()
    expect(page).to_have_url(f"{live_server.url}/c/{first}/")
    expect(heading).to_have_text(title_of(page, first))
    expect(row(page, first)).to_have_attribute("aria-current", "page")
    expect(row(page, first)).to_be_in_viewport()
    assert not not_reloaded(page)
    both_modes(page, "panes-reloaded")

    # The keyboard: j/k through the rows, Enter opens in the pane; the focus stays on the row.
    row(page, second).focus()
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/c/{ids[11]}/")
    expect(heading).to_have_text(title_of(page, ids[11]))
    expect(row(page, ids[11])).to_be_focused()
    assert dialogs == []
    assert script_errors == []  # back and forward run no broken handler


def test_what_arrived_since_the_last_visit_is_bold_marked_new_and_jump_to_latest_goes_there(
    maya: Page,  # noqa: F811
    live_server,
    sandbox,
    dialogs,  # noqa: F811
):
    page = maya
    owner = XAccount.objects.get(username="maya_reads").user_id
    theo = row(page, THEO)
    theo.click()
    expect(page).to_have_url(f"{live_server.url}/c/{THEO}/")
    expect(theo.locator("xpath=..")).not_to_have_class("unread")

    news = ["Are you around?", "Found the photos from Lisbon", "Call me when you can"]
    for text in news:
        sandbox.admin(
            "POST",
            "events",
            json={"with": ["maya_reads", "theo_park"], "sender": "theo_park", "text": text},
        )
    assert sync.sync_account(owner).status == SyncState.IDLE
    page.goto(live_server.url)
    expect(theo.locator("xpath=..")).to_have_class("unread")
    preview = theo.locator(".inbox-preview")
    assert preview.evaluate("p => getComputedStyle(p).fontWeight") == "700"
    expect(theo).to_contain_text("New messages.")  # said, not only shown in bold
    snap(page, "panes-inbox-new")

    theo.click()
    divider = page.locator("#new-divider")
    expect(divider).to_be_in_viewport()
    expect(divider).to_have_text("New")
    # Right before the first new message, which starts a run of its own.
    first_new = DmEvent.objects.get(owner_id=owner, text=news[0])
    after = divider.evaluate("d => d.nextElementSibling.querySelector('article.msg').id")
    assert after == f"e{first_new.x_id}"
    before = divider.evaluate(
        "d => [...d.previousElementSibling.querySelectorAll('article.msg')].pop().id"
    )
    older = Conversation.objects.get(owner_id=owner, x_id=THEO).events.filter(
        created_at__lt=first_new.created_at
    )
    assert before == f"e{older.order_by('-created_at', '-sort_id').first().x_id}"
    expect(theo.locator("xpath=..")).not_to_have_class("unread")
    both_modes(page, "panes-new-divider")

    # Far up the thread, Jump to latest appears; it brings the newest message back.
    jump = page.get_by_role("link", name="Jump to latest")
    expect(jump).to_be_hidden()
    page.mouse.move(900, 400)
    for _ in range(4):
        page.mouse.wheel(0, -1500)
        page.wait_for_timeout(150)
    expect(jump).to_be_visible()
    both_modes(page, "panes-jump-to-latest")
    jump.click()
    newest = DmEvent.objects.get(owner_id=owner, text=news[-1])
    expect(page.locator(f"#e{newest.x_id}")).to_be_in_viewport()
    expect(jump).to_be_hidden()

    # Opened again, nothing is new: no line.
    page.goto(f"{live_server.url}/c/{THEO}/")
    expect(page.locator(f"#e{newest.x_id}")).to_be_in_viewport()
    expect(divider).to_have_count(0)
    assert dialogs == []


def test_a_phone_keeps_one_pane_and_one_compact_header(
    maya: Page,  # noqa: F811
    live_server,
    dialogs,  # noqa: F811
):
    page = maya
    page.set_viewport_size(PHONE)
    expect(page.locator("#thread-pane")).to_be_hidden()
    header = page.locator(".app-header").bounding_box()
    assert header["height"] <= 60  # one row: brand, search, picture, sign out
    assert_fits_the_width(page)
    snap(page, "panes-phone-inbox")
    assert_accessible(page, "the inbox on a phone")

    # A row is a plain link here: a page of its own, with the conversation's bar alone on top.
    page.evaluate("window.notReloaded = true")
    row(page, THEO).click()
    expect(page).to_have_url(f"{live_server.url}/c/{THEO}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Theo Park")
    assert not not_reloaded(page)
    expect(page.locator(".inbox-pane")).to_be_hidden()
    expect(page.locator(".app-header")).to_be_hidden()
    bar = page.locator(".conversation-head")
    # Search, media, a date and export as icons in the one row, each named for screen readers.
    for name in ("Search here", "Media", "Export"):
        expect(bar.get_by_role("link", name=name)).to_be_visible()
    expect(bar.get_by_text("Go to date")).to_be_attached()
    box = bar.bounding_box()
    assert box["y"] == 0 and box["height"] <= 60  # was four bars, a quarter of the screen
    assert_fits_the_width(page)
    page.mouse.wheel(0, -600)
    assert page.locator(".conversation-head").bounding_box()["y"] == 0  # it stays on top
    both_modes(page, "panes-phone-thread")

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.locator(".inbox-pane")).to_be_visible()
    page.set_viewport_size(PHONE)
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".inbox-pane")).to_be_visible()
    page.emulate_media(color_scheme="dark")
    snap(page, "panes-phone-inbox-dark")
    assert_accessible(page, "the inbox on a phone in dark mode")
    page.emulate_media(color_scheme="light")
    assert dialogs == []
