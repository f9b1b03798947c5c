"""Reading DMs in a real Chromium: the inbox filling after sign-in, a group conversation with its
media, post cards and system lines, the photo lightbox, scrolling a 2,000-event conversation back
to its beginning, opening a chat by @username, hostile text, a phone, dark mode and axe-core."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import Page, expect

from conversations import sync
from conversations.models import Conversation, DmEvent, SyncState
from dmreader.models import XAccount
from tests.browser.conftest import SCREENSHOTS
from tests.sandbox import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

THEO = "2893011764-1432706037263519745"  # maya and theo_park: 2,000+ events in X's window
PHONE = {"width": 360, "height": 740}
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
EVENTS = "#thread article.msg[id], #thread li.system[id]"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """This module's own sandbox: it adds a hostile message to maya's chat with theo."""
    server = Sandbox(tmp_path_factory.mktemp("reader-browser-sandbox")).start()
    server.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "theo_park"], "sender": "theo_park", "text": HOSTILE},
    )
    yield server
    server.stop()


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert() a page manages to run."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    return seen


@pytest.fixture
def script_errors(page: Page) -> list[str]:
    """Every exception our pages' scripts throw (a broken handler leaves the page half-working)."""
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(f"{page.url}: {error}"))
    return seen


def sign_in(page: Page, live_server, sandbox) -> int:
    """maya_reads signs in through the consent page; returns her user id."""
    sandbox.register_redirect_uri(live_server.url + "/auth/callback/")
    page.goto(live_server.url)
    page.get_by_role("link", name="Sign in with X").click()
    page.get_by_label(re.compile("Maya Okafor")).check()
    page.get_by_role("button", name="Authorize app").click()
    expect(page.get_by_label("Signed in as Maya Okafor")).to_be_visible()
    return XAccount.objects.get(username="maya_reads").user_id


@pytest.fixture
def maya(page: Page, live_server, sandbox, dialogs) -> Page:
    """maya_reads signed in and synced, on her inbox. (The sync sign-in queues has no worker in
    tests: it runs here, in the test's thread.)"""
    owner = sign_in(page, live_server, sandbox)
    assert sync.sync_account(owner).status == SyncState.IDLE
    page.reload()
    return page


def event_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all(EVENTS, "nodes => nodes.map(n => n.id.slice(1))")


def assert_accessible(page: Page, name: str) -> None:
    """No serious or critical axe-core violations on what the page shows now."""
    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


def load_images(page: Page) -> None:
    """Lazy images far down the page too, so that a screenshot shows them. Each poll makes
    eager what arrived since (the thread may still be adding an older page): an off-screen lazy
    image never completes."""
    page.wait_for_function(
        """() => {
          document.querySelectorAll("img[loading=lazy]").forEach((i) => (i.loading = "eager"));
          return [...document.images].every((i) => i.complete);
        }""",
        timeout=15_000,
    )


def snap(page: Page, name: str) -> None:
    """What the screen shows now, as test-artifacts/screenshots/<name>.png (a whole conversation
    in one PNG would be tens of thousands of pixels tall)."""
    load_images(page)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def assert_fits_the_width(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def assert_loaded(image) -> None:
    image.scroll_into_view_if_needed()
    image.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=15_000
    )


def first_in_thread(page: Page, selector: str):
    """The first `selector` in the thread, found again by its event's id: a locator that keeps
    pointing at it while older pages are put above it."""
    event_id, is_event = page.locator(selector).first.evaluate(
        "node => { const event = node.closest('[id^=e]'); return [event.id, event === node]; }"
    )
    return page.locator(f"#{event_id}" if is_event else f"#{event_id} {selector}").first


def scroll_until(page: Page, selector: str, pages: int = 10) -> None:
    """Scroll up, page by page, until `selector` is in the thread."""
    page.mouse.move(640, 400)
    for _ in range(pages):
        if page.locator(selector).count():
            return
        count = len(event_ids(page))
        page.mouse.wheel(0, -100_000)
        page.wait_for_function(
            "n => document.querySelectorAll('#thread [id^=e]').length > n"
            " || document.querySelector('.history-end')",
            arg=count,
        )
    assert page.locator(selector).count(), selector


def richest_group(owner_id: int) -> Conversation:
    """The group whose newest pages hold a photo, a video, a shared post and a system line."""

    def depth(group: Conversation) -> int:
        events = group.events.order_by("-created_at", "-sort_id").prefetch_related("media")
        need = {"photo", "video", "post", "system"}
        for i, event in enumerate(events):
            need -= {m.type for m in event.media.all()}
            if event.shared_posts.exists():
                need.discard("post")
            if event.event_type != DmEvent.MESSAGE_CREATE:
                need.discard("system")
            if not need:
                return i
        return 10**9

    return min(Conversation.objects.filter(owner_id=owner_id, is_group=True), key=depth)


def test_after_sign_in_the_inbox_fills_and_a_group_reads_well_on_desktop_phone_and_in_dark(
    page: Page, live_server, sandbox, screenshot, dialogs
):
    owner = sign_in(page, live_server, sandbox)
    expect(page.get_by_text("Your messages are on their way from X")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    assert sync.sync_account(owner).status == SyncState.IDLE
    # The inbox polls while the sync is queued or running, fills without a reload, then stops.
    rows = page.locator(".inbox-row")
    expect(rows).to_have_count(Conversation.objects.filter(owner_id=owner).count(), timeout=10_000)
    expect(page.get_by_text(re.compile("Up to date"))).to_be_visible()
    assert page.evaluate("window.notReloaded === true")
    assert page.locator("#inbox-body[hx-trigger]").count() == 0

    first = rows.first
    expect(first.locator(".inbox-title")).to_have_text("Theo Park")
    expect(first.locator(".handle")).to_have_text("@theo_park")
    expect(first.locator(".inbox-when")).to_have_text(re.compile(r"^(just now|\d+ (min|h))$"))
    expect(
        page.locator(".inbox-row .inbox-title", has_text=re.compile(r" and \d+ others?$")).first
    ).to_be_visible()
    load_images(page)
    screenshot(page, "reader-inbox")
    assert_accessible(page, "inbox")

    group = richest_group(owner)
    page.locator(f'a.inbox-row[href="/c/{group.x_id}/"]').click()
    # Titled by its people: up to four first names, then how many more ("and 2 others"). Which
    # group holds all of that moves with the sandbox's 30 days, and so does how many it has.
    me = XAccount.objects.get(user_id=owner).x_user_id
    more = group.participants.exclude(x_id=me).count() - 4
    title = rf", .+ and {more} others?$" if more > 0 else r"^[^,]+(?:, [^,]+)* and [^,]+$"
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(title))
    for selector in ("a.photo img", "video.video", "a.post-card", "li.system"):
        scroll_until(page, selector)

    theirs = first_in_thread(page, ".msg-group:not(.mine) article.msg")
    avatar = page.locator(".msg-group", has=theirs).locator("> img.avatar")
    expect(avatar).to_have_attribute("src", re.compile(r"^/avatar/\d+/$"))
    assert_loaded(avatar)
    expect(page.locator(".msg-group", has=theirs).locator(".sender-name")).not_to_be_empty()

    photo = first_in_thread(page, "a.photo img")
    assert_loaded(photo)
    assert photo.get_attribute("alt")
    box = photo.bounding_box()
    # Sized from the media's fields before it loads: nothing moves when it arrives.
    assert abs(box["width"] - int(photo.get_attribute("width"))) <= 1
    assert abs(box["height"] - int(photo.get_attribute("height"))) <= 1

    video = first_in_thread(page, "video.video")
    assert video.get_attribute("controls") is not None
    poster = page.request.get(page.url.split("/c/")[0] + video.get_attribute("poster"))
    assert poster.ok and poster.headers["content-type"].startswith("image/")
    clip = page.request.get(page.url.split("/c/")[0] + video.get_attribute("src"))
    assert clip.ok and clip.headers["content-type"] == "video/mp4"

    card = first_in_thread(page, "a.post-card")
    expect(card).to_have_attribute("href", re.compile(r"^https://x\.com/\w+/status/\d+$"))
    expect(card.locator(".post-author strong")).not_to_be_empty()
    expect(card.locator(".post-text")).not_to_contain_text("t.co/")

    expect(first_in_thread(page, "li.system")).to_have_text(
        re.compile(r"^@\w+ (added @\w+.*|joined|left) \d\d:\d\d$")
    )
    card.scroll_into_view_if_needed()
    snap(page, "reader-group")
    assert_accessible(page, "group conversation")

    # The lightbox: open a photo, see it whole, close it with Escape, focus back on the photo.
    link = first_in_thread(page, "a.photo")
    link.scroll_into_view_if_needed()
    link.click()
    lightbox = page.locator("#lightbox")
    expect(lightbox).to_have_attribute("open", "")
    assert_loaded(page.locator("#lightbox-image"))
    expect(page.locator("#lightbox-image")).to_have_attribute("alt", re.compile(r"\S"))
    assert page.evaluate("document.getElementById('lightbox').contains(document.activeElement)")
    snap(page, "reader-lightbox")
    assert_accessible(page, "lightbox")
    page.keyboard.press("Escape")
    expect(lightbox).not_to_have_attribute("open", "")
    assert link.evaluate("a => document.activeElement === a")

    # A phone: nothing wider than the screen, the lightbox inside it, still accessible.
    page.set_viewport_size(PHONE)
    assert_fits_the_width(page)
    link.scroll_into_view_if_needed()
    snap(page, "reader-group-phone")
    assert_accessible(page, "group conversation on a phone")
    link.click()
    assert_loaded(page.locator("#lightbox-image"))
    image = page.locator("#lightbox-image").bounding_box()
    assert image["x"] >= 0 and image["x"] + image["width"] <= PHONE["width"]
    snap(page, "reader-lightbox-phone")
    page.keyboard.press("Escape")

    # Dark mode follows the system setting.
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"
    snap(page, "reader-group-phone-dark")
    assert_accessible(page, "group conversation in dark mode")
    page.go_back()
    expect(rows.first).to_be_visible()
    assert_fits_the_width(page)
    load_images(page)
    screenshot(page, "reader-inbox-phone-dark")
    assert_accessible(page, "inbox on a phone in dark mode")
    page.emulate_media(color_scheme="light")
    screenshot(page, "reader-inbox-phone")
    assert dialogs == []


# Runs in the page before its own scripts: for every older page htmx puts in, where the message
# at the top of the screen was just before and just after.
MEASURE_SHIFTS = """
window.__shifts = [];
let watched = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  if (!event.detail.target.classList.contains("load-older")) return;
  const top = document.querySelector(".conversation-head").getBoundingClientRect().bottom;
  watched = [...document.querySelectorAll("#thread article.msg[id], #thread li.system[id]")]
    .find((node) => node.getBoundingClientRect().top >= top);
  watched = watched && { node: watched, before: watched.getBoundingClientRect().top };
});
document.addEventListener("htmx:afterSettle", () => {
  if (!watched) return;
  window.__shifts.push({
    id: watched.node.id,
    before: watched.before,
    after: watched.node.getBoundingClientRect().top,
  });
  watched = null;
});
"""


def test_a_chat_opened_by_username_shows_hostile_text_as_text_and_scrolls_back_to_its_start(
    maya: Page, dialogs
):
    page = maya
    page.add_init_script(MEASURE_SHIFTS)
    expect(page.locator(".inbox-row").first.locator(".inbox-preview")).to_have_text(HOSTILE)
    open_with = page.get_by_label("Open a conversation with (@username or user id)")
    open_with.fill("@nobody_at_all")
    open_with.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(
        "No account called @nobody_at_all was found on X"
    )
    page.go_back()
    open_with.fill("@theo_park")
    open_with.press("Enter")
    expect(page).to_have_url(re.compile(rf"/c/{THEO}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Theo Park")

    # The newest message is markup from X: shown as the text it is, nothing run.
    expected = list(
        DmEvent.objects.filter(conversation__x_id=THEO)
        .order_by("created_at", "sort_id")
        .values_list("x_id", flat=True)
    )
    newest = page.locator(f"#e{expected[-1]}")
    expect(newest.locator(".bubble")).to_have_text(HOSTILE)
    expect(newest).to_be_in_viewport()  # it opens at the newest message
    assert page.locator("#thread script, #thread img[src='x']").count() == 0
    # Scrolled down, the conversation's header sticks right below the app's, not under it.
    assert page.evaluate(
        "document.querySelector('.conversation-head').getBoundingClientRect().top"
        " - document.querySelector('.app-header').getBoundingClientRect().bottom"
    ) == pytest.approx(0, abs=1)
    snap(page, "reader-hostile")

    # Scroll up to the beginning: every event once, in order, and the screen never jumps.
    assert len(expected) > 2000
    assert event_ids(page) == expected[-50:]
    page.mouse.move(640, 400)
    for _ in range(len(expected) // 50 + 5):
        if page.locator(".history-end").count():
            break
        shown = len(event_ids(page))
        page.mouse.wheel(0, -100_000)
        page.wait_for_function(
            "n => document.querySelectorAll('#thread [id^=e]').length > n"
            " || document.querySelector('.history-end')",
            arg=shown,
        )
    expect(page.locator(".history-end")).to_have_text(
        re.compile("Beginning of the conversation|X only returns the last 30 days")
    )
    assert event_ids(page) == expected

    shifts = page.evaluate("window.__shifts")
    assert len(shifts) == -(-len(expected) // 50) - 1
    assert [s for s in shifts if abs(s["after"] - s["before"]) > 2] == []

    days = page.eval_on_selector_all("#thread li.day", "nodes => nodes.map(n => n.textContent)")
    assert len(days) == len(set(days))  # one separator per day, where pages join too
    page.evaluate("window.scrollTo(0, 0)")
    snap(page, "reader-conversation-start")
    assert dialogs == []


def test_sync_now_on_the_inbox_shows_the_sync_and_brings_the_news(maya: Page, sandbox):
    page = maya
    owner = XAccount.objects.get(username="maya_reads").user_id
    status = page.locator(".sync-line")
    expect(status).to_contain_text("Up to date")
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "theo_park"], "sender": "theo_park", "text": "pressed it?"},
    )
    page.get_by_role("button", name="Sync now").click()
    # The press shows at once (and the inbox polls for the rest)...
    expect(status).to_contain_text("Syncing…")
    expect(page.get_by_role("button", name="Sync now")).to_be_disabled()
    snap(page, "reader-sync-now")
    # ...and once the worker has run the sync it asked for, the news is on top, without a reload.
    page.evaluate("window.notReloaded = true")
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    assert SyncState.objects.get(owner_id=owner).status == SyncState.IDLE
    expect(status).to_contain_text("Up to date", timeout=10_000)
    expect(page.locator(".inbox-row").first.locator(".inbox-preview")).to_have_text("pressed it?")
    assert page.evaluate("window.notReloaded === true")


def test_scrolling_past_the_cache_when_x_s_rate_limit_is_used_up_says_when_and_tries_again(
    maya: Page, sandbox, dialogs
):
    """Before the first inbox sync has walked X's whole window, the top of a conversation's cache
    may not be its beginning: the reader asks X (a POST), and tells when X's limit is used up."""
    page = maya
    owner = XAccount.objects.get(username="maya_reads").user_id
    short = next(
        c
        for c in Conversation.objects.filter(owner_id=owner, is_group=False).order_by("x_id")
        if 5 < c.events.count() < 40
    )
    SyncState.objects.filter(owner_id=owner).update(backfill_complete=False)
    Conversation.objects.filter(pk=short.pk).update(history_complete=False, history_token="")
    shown = list(short.events.order_by("created_at", "sort_id").values_list("x_id", flat=True))

    page.goto(f"{page.url.rstrip('/')}/c/{short.x_id}/")
    row = page.locator("#thread .load-older")
    expect(row.get_by_role("button", name="Load older messages from X")).to_be_attached()
    sandbox.fault("maya_reads", "429", count=1)
    try:
        # Scrolled up to it, the row asks X by itself.
        page.mouse.move(640, 400)
        page.mouse.wheel(0, -100_000)
        expect(row).to_contain_text(
            re.compile(r"Older messages can load at \d\d:\d\d \(X's rate limit\)\.")
        )
    finally:
        sandbox.clear_faults("maya_reads")
    expect(row.get_by_role("button", name="Try again")).to_be_visible()
    assert event_ids(page) == shown  # the row stays and nothing was lost
    snap(page, "reader-older-rate-limited")

    # The window has room again: "Try again" asks X, which has nothing older.
    SyncState.objects.filter(owner_id=owner).update(rate_remaining=None, rate_reset_at=None)
    row.get_by_role("button", name="Try again").click()
    expect(page.locator(".history-end")).to_contain_text("X only returns the last 30 days")
    assert page.locator("#thread .load-older").count() == 0
    assert event_ids(page) == shown
    assert dialogs == []


def header_picture(page: Page) -> tuple[str, str, str]:
    """The header picture's URL, what it shows, and what its URL serves now (pixels to compare)."""
    avatar = page.locator(".account-chip img.avatar")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle()
    )
    return avatar.get_attribute("src"), *avatar.evaluate(
        """async (img) => {
          const draw = (source) => {
            const canvas = document.createElement("canvas");
            canvas.width = canvas.height = 32;
            canvas.getContext("2d").drawImage(source, 0, 0, 32, 32);
            return canvas.toDataURL();
          };
          const fresh = await fetch(img.src, { cache: "no-store" });
          return [draw(img), draw(await createImageBitmap(await fresh.blob()))];
        }"""
    )


def test_after_maya_signs_out_jonas_sees_his_own_picture_not_hers(page: Page, live_server, sandbox):
    sign_in(page, live_server, sandbox)
    maya_url, maya_shown, maya_fresh = header_picture(page)
    assert maya_shown == maya_fresh
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in with X").click()
    page.get_by_label(re.compile("Jonas Köhler")).check()
    page.get_by_role("button", name="Authorize app").click()
    expect(page.get_by_label("Signed in as Jonas Köhler")).to_be_visible()
    jonas_url, jonas_shown, jonas_fresh = header_picture(page)
    # The browser keeps a picture for a day: Jonas's must not be at the URL of Maya's, which a
    # cache that ignores `Vary: Cookie` would answer with her face.
    jonas = XAccount.objects.get(username="jonas_k").x_user_id
    assert jonas_url != maya_url and f"/{jonas}/" in jonas_url
    assert jonas_shown == jonas_fresh
    assert jonas_shown != maya_shown
