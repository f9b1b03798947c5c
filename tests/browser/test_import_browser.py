"""The archive import's demo in a real Chromium: sign in on the sandbox (X's 30 days), import an
archive holding older history from the Import page, watch the progress end, then read, scroll
to and search a message X's API no longer gives."""

import re
import threading
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations import importing, sync
from conversations.models import Conversation, DmEvent, HistoryGap, ImportJob
from dmreader.models import XAccount
from tests import archive_factory as af
from tests.browser.conftest import SCREENSHOTS
from tests.test_import_views import run_due_tasks

pytestmark = pytest.mark.django_db(transaction=True)

OLD_WORD = "zanzibarquokka"


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"


def older_history(account: XAccount, conversation: Conversation, tmp_path) -> af.WrittenArchive:
    """Maya's archive: 80 messages of this one-to-one from two months ago, before X's 30 days."""
    me = account.x_user_id
    other = next(x for x in conversation.x_id.split("-") if x != me)
    start = timezone.now() - timedelta(days=60)
    history = af.Conversation(conversation.x_id, False)
    history.messages = [
        af.message_create(
            af.snowflake(start + timedelta(minutes=m), m),
            other if m % 2 else me,
            start + timedelta(minutes=m),
            f"Back in October, about the {OLD_WORD} at the zoo" if m == 5 else f"older note {m}",
            recipient_id=me if m % 2 else other,
        )
        for m in range(80, 0, -1)
    ]
    # Made today, as X's would be: an archive covers history up to its generation date, and the
    # gap above this conversation's 30 days ends a few days ago at most.
    return af.write_archive(
        tmp_path / "twitter-archive.zip",
        [history],
        account_id=me,
        username=account.username,
        generated_at=timezone.now(),
    )


def viewport_shot(page: Page, name: str) -> None:
    # The viewport, as the person sees it (a full-page shot repeats the sticky headers midway).
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def test_an_imported_archive_reads_scrolls_and_searches_like_the_rest(
    page: Page, live_server, sandbox, tmp_path, screenshot, monkeypatch
):
    sandbox.register_redirect_uri(live_server.url + "/auth/callback/")
    page.goto(live_server.url)
    page.get_by_role("link", name="Sign in with X").click()
    page.get_by_label(re.compile("Maya Okafor")).check()
    page.get_by_role("button", name="Authorize app").click()
    expect(page.get_by_label("Signed in as Maya Okafor")).to_be_visible()
    maya = XAccount.objects.get(username="maya_reads")
    sync.sync_account(maya.user_id)
    # The shortest one-to-one: its 30 days end soon when scrolling up.
    conversation = (
        Conversation.objects.filter(owner_id=maya.user_id, is_group=False)
        .annotate(n=Count("events"))
        .order_by("n")
        .first()
    )
    cached = conversation.n
    archive = older_history(maya, conversation, tmp_path)

    # A gap sync recorded (as after 40 days away) above the conversation's 30 days: its line links
    # to the Import page, and the import fills it.
    oldest = DmEvent.objects.filter(conversation=conversation).earliest("created_at").created_at
    HistoryGap.objects.create(
        owner_id=maya.user_id,
        conversation=conversation,
        after_at=timezone.now() - timedelta(days=50),
        before_at=oldest,
    )
    page.goto(f"{live_server.url}/c/{conversation.x_id}/")
    gap = page.locator(".history-gap")
    expect(gap).to_contain_text("could not be fetched: X keeps only the last 30 days.")
    gap.scroll_into_view_if_needed()
    viewport_shot(page, "import-gap-line")
    page.emulate_media(color_scheme="dark")
    viewport_shot(page, "import-gap-line-dark")
    page.emulate_media(color_scheme="light")
    gap.get_by_role("link", name="Import your X archive").click()
    expect(page.get_by_role("heading", name="Import your X archive")).to_be_visible()
    chooser = page.get_by_label(re.compile("The archive of @maya_reads"))
    # A refused upload says why on the form itself (import.js), and nothing is queued.
    data_file = tmp_path / "direct-messages.js"
    data_file.write_text("window.YTD.direct_messages.part0 = []")
    chooser.set_input_files(data_file)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator(".upload-line")).to_contain_text("Choose manifest.js too")
    assert not ImportJob.objects.exists()
    chooser.set_input_files(archive.path)
    screenshot(page, "import-page")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_text("Waiting for the worker to start")).to_be_visible()

    # The worker, held before its third batch of 20 until the page has shown the progress so far.
    monkeypatch.setattr(importing, "BATCH", 20)
    store_batch, batches, reached, go = (
        importing.store_batch,
        [],
        threading.Event(),
        threading.Event(),
    )

    def held_on_the_third(*args, **kwargs):
        batches.append(1)
        if len(batches) == 3:
            reached.set()
            go.wait(timeout=60)
        store_batch(*args, **kwargs)

    monkeypatch.setattr(importing, "store_batch", held_on_the_third)
    worker = threading.Thread(target=run_due_tasks)
    worker.start()
    try:
        assert reached.wait(timeout=60)
        progress = page.locator("#import-progress")
        expect(progress).to_contain_text("Importing: 40 of 80 messages · 0 of 1 conversations")
        expect(page.get_by_role("progressbar")).to_have_attribute("value", "50")
        screenshot(page, "import-progress")
    finally:
        go.set()
        worker.join(timeout=60)
    expect(progress).to_contain_text("Imported 80 messages from 1 conversation: all of them new")
    job = ImportJob.objects.get(owner_id=maya.user_id)
    assert job.status == ImportJob.DONE and job.path == "" and job.gaps_closed == 1
    screenshot(page, "import-done")
    page.emulate_media(color_scheme="dark")
    viewport_shot(page, "import-done-dark")
    page.emulate_media(color_scheme="light")

    page.get_by_role("link", name="Go to your messages").click()
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    viewport_shot(page, "import-inbox")
    page.goto(f"{live_server.url}/c/{conversation.x_id}/")
    old = page.get_by_text(f"Back in October, about the {OLD_WORD} at the zoo")
    for _ in range(10):  # scroll up: X's 30 days, then the imported months before them
        if old.count():
            break
        page.mouse.wheel(0, -20000)
        page.wait_for_timeout(300)
    old.scroll_into_view_if_needed()
    expect(old).to_be_visible()
    expect(page.locator(".history-gap")).to_have_count(0)  # filled by the import
    shown = page.eval_on_selector_all("#thread [id^=e]", "nodes => nodes.map(n => n.id)")
    assert len(shown) == len(set(shown)) == cached + 80  # all of it, nothing twice
    viewport_shot(page, "import-scrolled")

    page.get_by_label("Search all messages").fill(OLD_WORD)
    page.get_by_label("Search all messages").press("Enter")
    result = page.locator(".search-result-link")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text(OLD_WORD)
    result.click()
    event_id = DmEvent.objects.get(owner_id=maya.user_id, text__contains=OLD_WORD).x_id
    expect(page.locator(f"#e{event_id}")).to_have_class(re.compile("highlight"))
    viewport_shot(page, "import-found")
