"""The HTML export in a real Chromium, opened from disk (file://, no server): every message once,
media that show, no script from hostile text, light and dark, and axe-core."""

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Page

from conversations import sync
from conversations.models import Conversation, DmEvent, SyncState
from dmreader.models import XAccount
from tests.browser.conftest import SCREENSHOTS
from tests.signin_helpers import sign_in

pytestmark = pytest.mark.django_db

EVENTS = ".thread article.msg[id], .thread li.system[id]"


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert() a page manages to run."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    return seen


@pytest.fixture
def blocked(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refused (our own files must never be)."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else 0)
    return seen


def group_with_media(owner_id: int) -> Conversation:
    """A group holding a photo, a video or GIF, a shared post and a join or leave line."""
    for group in Conversation.objects.filter(owner_id=owner_id, is_group=True):
        events = group.events.prefetch_related("media", "shared_posts")
        kinds = set()
        for event in events:
            kinds |= {"photo" if m.type == "photo" else "video" for m in event.media.all()}
            if event.shared_posts.all():
                kinds.add("post")
            if event.event_type != DmEvent.MESSAGE_CREATE:
                kinds.add("system")
        if kinds >= {"photo", "video", "post", "system"} and events.count() < 600:
            return group
    raise AssertionError("no group with every kind of media")


def assert_accessible(page: Page, name: str) -> None:
    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


def load_everything(page: Page) -> None:
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)


def test_the_html_export_opens_from_disk_with_every_message_once_and_no_script(
    page: Page, sandbox, settings, tmp_path, dialogs, blocked
):
    for name, value in sandbox.urls.items():
        setattr(settings, name, value)
    client = Client()
    sign_in(client, sandbox, "maya_reads")
    maya = XAccount.objects.get(username="maya_reads")
    assert sync.sync_account(maya.user_id).status == SyncState.IDLE
    group = group_with_media(maya.user_id)
    pia = Conversation.objects.get(
        owner_id=maya.user_id, is_group=False, participants__username="security_pia"
    )
    call_command(
        "exportdms",
        "--account=@maya_reads",
        "--format=html",
        f"--conversation={group.x_id}",
        f"--conversation={pia.x_id}",
        "-o",
        str(tmp_path / "export"),
    )
    (root,) = (tmp_path / "export").iterdir()

    page.goto(Path(root / "index.html").as_uri())
    rows = page.locator("a.inbox-row")
    assert rows.count() == 2
    load_everything(page)
    assert_accessible(page, "export index")
    page.screenshot(path=SCREENSHOTS / "export-index.png", full_page=True)

    for conversation in (group, pia):
        page.goto(Path(root / "c" / conversation.x_id / "1.html").as_uri())
        expected = list(
            conversation.events.order_by("created_at", "sort_id").values_list("x_id", flat=True)
        )
        shown = page.eval_on_selector_all(EVENTS, "nodes => nodes.map(n => n.id.slice(1))")
        assert shown == expected
        load_everything(page)
        broken = page.evaluate(
            "[...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == []
        assert_accessible(page, f"export of {conversation.x_id}")

    page.goto(Path(root / "c" / group.x_id / "1.html").as_uri())
    load_everything(page)
    assert page.locator("a.photo img").count() and page.locator("a.post-card").count()
    assert page.locator("li.system").count()
    video = page.locator("video").first
    video.scroll_into_view_if_needed()
    page.wait_for_function(
        "v => v.readyState >= 1 && v.videoWidth > 0", arg=video.element_handle(), timeout=15_000
    )
    page.screenshot(path=SCREENSHOTS / "export-group.png")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=SCREENSHOTS / "export-group-dark.png")
    assert_accessible(page, "export in dark mode")
    page.emulate_media(color_scheme="light")

    page.goto(Path(root / "c" / pia.x_id / "1.html").as_uri())
    bubbles = page.locator(".bubble").all_inner_texts()
    assert '<script>alert("dm")</script>' in bubbles
    assert '"><img src=x onerror=alert(1)>' in bubbles
    assert page.locator(".bubble img, .bubble script, .bubble b").count() == 0
    page.screenshot(path=SCREENSHOTS / "export-hostile.png")
    assert dialogs == []
    # axe-core itself fetches the stylesheet (connect-src): the page has no script to connect.
    refused = [m for m in blocked if "file://" in m and "'connect-src'" not in m]
    assert refused == [], refused
