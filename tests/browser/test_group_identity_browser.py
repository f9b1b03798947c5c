"""The demo's end in a real Chromium: maya (X's 30 days synced) downloads her archive from the
sandbox through the Import page's link, uploads it, and then reads what only the archive has:
groups by their names (and renamed by her), unnamed groups with titles and composite avatars
that tell them apart, reactions under messages. Screenshots and axe-core, light and dark."""

import re

import pytest
from playwright.sync_api import Page, expect

from conversations import reactions
from conversations.models import Conversation, DmEvent, ImportJob
from tests.browser.test_reader_browser import (  # noqa: F401 - fixtures used by name
    PHONE,
    assert_accessible,
    assert_fits_the_width,
    dialogs,
    maya,
    snap,
)
from tests.sandbox import Sandbox
from tests.test_import_views import run_due_tasks

pytestmark = pytest.mark.django_db(transaction=True)

LISBON = "Lisbon trip 🇵🇹"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(
        tmp_path_factory.mktemp("identity-browser-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


def both_modes(page: Page, name: str) -> None:
    snap(page, name)
    assert_accessible(page, name)
    page.emulate_media(color_scheme="dark")
    snap(page, f"{name}-dark")
    assert_accessible(page, f"{name} in dark mode")
    page.emulate_media(color_scheme="light")


def test_the_archive_from_the_sandbox_names_groups_and_shows_reactions(
    maya: Page,  # noqa: F811 - the imported fixture
    live_server,
    sandbox,
    settings,
    tmp_path,
):
    page = maya
    settings.XSANDBOX_URL = sandbox.base_url
    settings.IMPORT_DIR = tmp_path / "imports"
    page.get_by_role("link", name="Import your X archive").click()
    link = page.get_by_role("link", name="download the archive of @maya_reads")
    with page.expect_download(timeout=120_000) as download:
        link.click()
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    assert archive.name.startswith("twitter-") and archive.suffix == ".zip"
    page.get_by_label(re.compile("The archive of @maya_reads")).set_input_files(archive)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_text("Waiting for the worker to start")).to_be_visible()
    run_due_tasks()
    assert ImportJob.objects.get().status == ImportJob.DONE
    expect(page.locator("#import-progress")).to_contain_text("Imported", timeout=15_000)

    # The inbox: groups by their names, the unnamed ones by four first names and three faces.
    page.get_by_role("link", name="Go to your messages").click()
    inbox = page.locator(".inbox")
    expect(inbox.get_by_text(LISBON)).to_be_visible()
    groups = page.locator(".inbox-row:has(.inbox-avatars-group)")
    titles = groups.locator(".inbox-title").all_inner_texts()
    assert len(titles) == len(set(titles)) >= 6
    unnamed = [t for t in titles if re.search(r", .* and ", t)]
    assert len(unnamed) >= 2, titles
    faces = [
        tuple(row.locator(".inbox-avatars img").evaluate_all("els => els.map(e => e.src)"))
        for row in groups.all()
    ]
    assert all(len(f) >= 2 for f in faces) and len(set(faces)) == len(faces)
    hostile = inbox.locator(".inbox-title", has_text="Flat 4B")
    expect(hostile).to_have_text('<b>Flat 4B</b> & "friends" <script>x</script>')
    both_modes(page, "identity-inbox")
    unnamed_row = groups.filter(has_text=unnamed[0])
    unnamed_row.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -120)")
    snap(page, "identity-inbox-groups")

    # A group she names herself: the form in the header, a refused name first.
    page.goto(f"{live_server.url}/c/{Conversation.objects.get(archive_name=LISBON).x_id}/")
    expect(page.get_by_role("heading", name=LISBON, level=1)).to_be_visible()
    page.locator(".group-name summary").click()
    name = page.get_by_label("Name this group (only you see it)")
    name.fill("   ")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Type a name for the group")
    expect(name).to_have_attribute("aria-invalid", "true")
    both_modes(page, "identity-rename-refused")
    name.fill("Portugal crew 🌊")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Portugal crew 🌊", level=1)).to_be_visible()
    snap(page, "identity-renamed")
    # On a phone the header's Rename shares the row of Media and Go to date, within the width.
    page.set_viewport_size(PHONE)
    assert_fits_the_width(page)
    page.locator(".group-name summary").click()
    expect(name).to_be_visible()
    assert_fits_the_width(page)
    form = page.locator(".group-name form").bounding_box()
    assert form["x"] >= 0 and form["x"] + form["width"] <= PHONE["width"], form
    snap(page, "identity-rename-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Reactions under a message: emoji, count, and who in words for a screen reader.
    reacted = next(
        e
        for e in DmEvent.objects.filter(conversation__is_group=True, event_type="MessageCreate")
        .select_related("conversation")
        .order_by("-created_at")
        if len(reactions.raw_reactions(e)) >= 2
    )
    page.goto(f"{live_server.url}/c/{reacted.conversation.x_id}/?around={reacted.x_id}")
    message = page.locator(f"#e{reacted.x_id}")
    message.scroll_into_view_if_needed()
    shown = message.locator(".reactions")
    expect(shown).to_be_visible()
    label = shown.locator(".reaction .visually-hidden").first.inner_text()
    assert re.fullmatch(r".+ reacted with .+", label), label
    expect(page.get_by_role("list", name="Reactions").first).to_be_visible()
    both_modes(page, "identity-reactions")
