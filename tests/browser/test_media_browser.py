"""Media and links in a real Chromium: a conversation's gallery and the lightbox paging through it
(arrow keys, swipe, the next page, alt text, download, Escape, a phone's close button), a link
card with hostile words, jump to a date, and search results that say where they are; axe-core
light and dark on each new view."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from conversations import queries
from conversations.models import Conversation, DmEvent
from tests.browser.test_reader_browser import (  # noqa: F401 - fixtures used by name
    HOSTILE,
    PHONE,
    THEO,
    assert_accessible,
    assert_fits_the_width,
    assert_loaded,
    dialogs,
    maya,
    snap,
)
from tests.sandbox import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"title": HOSTILE, "description": f"Described as {HOSTILE}"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """This module's own sandbox: theo sends maya a link whose card says hostile things."""
    server = Sandbox(tmp_path_factory.mktemp("media-browser-sandbox")).start()
    server.admin(
        "POST",
        "events",
        json={
            "with": ["maya_reads", "theo_park"],
            "sender": "theo_park",
            "text": "this one https://example.com/hostile-card",
            "card": CARD,
        },
    )
    yield server
    server.stop()


def count(page: Page) -> str:
    return page.locator("#lightbox-count").inner_text()


def both_modes(page: Page, name: str) -> None:
    """A screenshot and axe-core in light, then dark, back to light."""
    snap(page, name)
    assert_accessible(page, name)
    page.emulate_media(color_scheme="dark")
    snap(page, f"{name}-dark")
    assert_accessible(page, f"{name} in dark mode")
    page.emulate_media(color_scheme="light")


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_gallery_and_its_lightbox_by_keys_swipe_and_on_a_phone(
    maya: Page,  # noqa: F811 - the imported fixture
    live_server,
    dialogs,  # noqa: F811
):
    page = maya
    page.goto(f"{live_server.url}/c/{THEO}/")
    page.locator(".conversation-head").get_by_role("link", name="Media").click()
    expect(page).to_have_url(re.compile(rf"/c/{THEO}/media/$"))
    expect(page.get_by_role("heading", name="Media", level=1)).to_be_visible()
    tiles = page.locator(".gallery a[data-lightbox]")
    expect(tiles.first).to_be_visible()
    assert_loaded(tiles.first.locator("img"))
    both_modes(page, "gallery")

    # Newest first: the first tile is the newest message with media.
    newest = (
        DmEvent.objects.filter(conversation__x_id=THEO, media__isnull=False)
        .order_by("-created_at", "-sort_id")
        .first()
    )
    expect(tiles.first).to_have_attribute("data-context", re.compile(rf"#e{newest.x_id}$"))

    tiles.first.click()
    lightbox = page.locator("#lightbox")
    expect(lightbox).to_have_attribute("open", "")
    convo = Conversation.objects.get(x_id=THEO)
    total = queries.media_count(convo.owner, convo)
    expect(page.locator("#lightbox-count")).to_have_text(f"1 of {total}")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-count")).to_have_text(re.compile(r"^2 of "))
    # A swipe to the left is the next one too; to the right, back.
    stage = page.locator(".lightbox-stage").bounding_box()
    y = stage["y"] + stage["height"] / 2
    page.mouse.move(stage["x"] + stage["width"] * 0.7, y)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.3, y + 5, steps=5)
    page.mouse.up()
    expect(page.locator("#lightbox-count")).to_have_text(re.compile(r"^3 of "))
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#lightbox-count")).to_have_text(re.compile(r"^2 of "))
    expect(lightbox).to_have_attribute("open", "")  # the swipe's click did not close it

    # The alt text shows; the original downloads as a file, for its owner only.
    shown = tiles.nth(1)
    alt = shown.get_attribute("data-alt")
    expect(page.locator("#lightbox-caption")).to_have_text(alt or "")
    download = page.locator("#lightbox-download")
    expect(download).to_be_visible()
    answer = page.request.get(live_server.url + download.get_attribute("href"))
    assert answer.ok
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    assert answer.headers["content-type"].split("/")[0] in ("image", "video")
    expect(page.locator("#lightbox-context")).to_have_attribute(
        "href", shown.get_attribute("data-context")
    )
    both_modes(page, "gallery-lightbox")

    page.keyboard.press("Escape")
    expect(lightbox).not_to_have_attribute("open", "")
    expect(shown).to_be_focused()  # back where it was (on the dialog's close event)
    expect(page).to_have_url(re.compile(rf"/c/{THEO}/media/$"))

    # From the last tile of a page, the next one comes from the gallery's next page.
    if page.locator(".gallery-more").count():
        first_page = tiles.count()
        tiles.nth(first_page - 1).click()
        page.keyboard.press("ArrowRight")
        expect(page.locator("#lightbox-count")).to_have_text(
            re.compile(rf"^{first_page + 1} of \d+$")
        )
        assert tiles.count() > first_page
        page.keyboard.press("Escape")

    # A phone: three tiles a row, and the viewer's close button clear of everything else.
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, 0)")
    assert_fits_the_width(page)
    snap(page, "gallery-phone")
    # A photo's tile (the newest media may be a video: the sandbox's data follow the clock).
    page.locator('.gallery-tile a[data-kind="photo"]').first.click()
    assert_loaded(page.locator("#lightbox-image"))
    close = page.get_by_role("button", name="Close")
    box = close.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["y"] >= 0
    others = ["#lightbox-image", "#lightbox-count", "#lightbox-download", "#lightbox-context"]
    others += ["#lightbox-prev", "#lightbox-next", "#lightbox-caption"]
    for selector in others:
        other = page.locator(selector)
        if other.is_visible():
            assert not overlaps(box, other.bounding_box()), selector
    both_modes(page, "gallery-lightbox-phone")
    close.click()
    expect(lightbox).not_to_have_attribute("open", "")
    assert dialogs == []


def test_a_link_card_a_date_and_search_results_that_say_where(
    maya: Page,  # noqa: F811 - the imported fixture
    live_server,
    dialogs,  # noqa: F811
):
    page = maya
    # The link card: the hostile title and description are text, the picture comes through us.
    page.goto(f"{live_server.url}/c/{THEO}/")
    card = page.locator("a.link-card").last
    expect(card).to_be_visible()
    expect(card.locator(".link-card-title")).to_have_text(HOSTILE)
    expect(card.locator(".link-card-description")).to_have_text(CARD["description"])
    expect(card.locator(".link-card-site")).to_have_text("example.com")
    expect(card).to_have_attribute("href", "https://example.com/hostile-card")
    image = card.locator("img.link-card-image")
    expect(image).to_have_attribute("src", re.compile(r"^/link/\d+/0/$"))
    assert_loaded(image)
    assert image.evaluate("i => i.naturalWidth") == 1200  # the sandbox's picture, not a stand-in
    card.scroll_into_view_if_needed()
    both_modes(page, "link-card")
    page.set_viewport_size(PHONE)  # the header's Media and Go to date fit a phone
    assert_fits_the_width(page)
    card.scroll_into_view_if_needed()
    snap(page, "link-card-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Jump to a date: the first message of that day, highlighted, with messages both ways.
    convo = Conversation.objects.get(x_id=THEO)
    middle = convo.events.order_by("created_at", "sort_id")[1000]
    day = middle.created_at.date()
    first_of_day = (
        convo.events.filter(created_at__date=day).order_by("created_at", "sort_id").first()
    )
    page.get_by_text("Go to date").click()
    page.get_by_label("Open at the first message of").fill(day.isoformat())
    both_modes(page, "jump-date-form")
    page.get_by_role("button", name="Go", exact=True).click()
    expect(page).to_have_url(re.compile(rf"around={first_of_day.x_id}#e{first_of_day.x_id}$"))
    target = page.locator(f"#e{first_of_day.x_id}")
    expect(target).to_have_class(re.compile("highlight"))
    expect(target).to_be_in_viewport()
    ids = page.eval_on_selector_all("#thread [id^=e]", "nodes => nodes.map(n => n.id)")
    assert 0 < ids.index(f"e{first_of_day.x_id}") < len(ids) - 1
    assert not convo.events.filter(
        created_at__date=day, created_at__lt=first_of_day.created_at
    ).exists()
    snap(page, "jump-date")

    # A day with no messages says where it landed instead.
    empty = next(
        d
        for d in (day - timedelta(days=n) for n in range(1, 60))
        if not convo.events.filter(created_at__date=d).exists()
    )
    page.goto(f"{live_server.url}/c/{THEO}/date/?day={empty.isoformat()}")
    expect(page.get_by_text(re.compile(r"^No messages on "))).to_be_visible()

    # Search results say where they are, show no t.co, and name a photo.
    page.get_by_label("Search all messages").fill("has:photo")
    page.get_by_label("Search all messages").press("Enter")
    results = page.locator(".search-result")
    expect(results.first).to_be_visible()
    expect(page.locator(".search-results")).not_to_contain_text("t.co/")
    expect(page.locator(".search-results")).not_to_contain_text("in a group")
    expect(results.first.locator(".search-result-where")).to_have_text(re.compile(r"\S"))
    expect(page.locator(".search-result-where", has_text=re.compile(r"^with "))).not_to_have_count(
        0
    )
    expect(results.first.locator(".marker", has_text="Photo")).to_be_visible()
    assert_loaded(results.first.locator("img.search-thumb"))
    both_modes(page, "search-places")

    # A photo without words, opened from its result, is marked as a text message is.
    bare = next(
        e
        for e in DmEvent.objects.filter(media__type="photo").order_by("-created_at", "-sort_id")
        if re.fullmatch(r"https://t\.co/\w+", e.text)
    )
    page.locator(f'.search-result a[href$="#e{bare.x_id}"]').click()
    expect(page.locator(f"#e{bare.x_id} .bubble")).to_have_count(0)
    photo = page.locator(f"#thread article.msg.highlight#e{bare.x_id} a.photo")
    expect(photo).to_be_in_viewport()
    assert photo.evaluate("a => getComputedStyle(a).boxShadow") not in ("", "none")
    snap(page, "search-photo-highlight")
    assert dialogs == []
