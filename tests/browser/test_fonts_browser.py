"""Chromium draws the world's scripts with real glyphs, so screenshots show what a person reads.

Without a font for a script, Chromium draws every character of it as the same empty box ("tofu"):
the page still passes every DOM assertion, but a person (and a screenshot) sees nothing.
scripts/ensure-chromium installs the fonts this test checks for.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from conversations import sync
from conversations.models import SyncState
from dmreader.models import XAccount
from tests.sandbox import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

# Who writes to jonas_k in the sandbox, and what: the scripts Debian's base fonts lack.
MESSAGES = {
    "Chinese": ("mei_chen", "照片发你了 明天见"),
    "Korean": ("seo_yeon_kim", "사진 보내줄게, 내일 봐"),
    "Devanagari": ("priya_sharma", "जन्मदिन मुबारक हो! चाय पीने चलें?"),
    "emoji": ("theo_park", "🎂🎉 👩🏾‍💻 🇰🇷 ☕️"),
}

# Each character of `text`, drawn alone on a canvas in `el`'s own font, against an unassigned code
# point (U+0378), which no font has: a character drawn exactly like it is a box. Characters that
# draw nothing by design (spaces, ZWJ, variation selectors) are left out.
TOFU_IN = """(el, text) => {
  const style = getComputedStyle(el);
  const canvas = document.createElement("canvas");
  canvas.width = 96;
  canvas.height = 64;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const draw = (s) => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = `${style.fontWeight} 40px ${style.fontFamily}`;
    ctx.textBaseline = "middle";
    ctx.fillText(s, 8, 32);
    return ctx.getImageData(0, 0, canvas.width, canvas.height).data.join();
  };
  const tofu = draw("\\u0378");
  return [...text]
    .filter((c) => !/[\\s\\p{Default_Ignorable_Code_Point}]/u.test(c))
    .filter((c) => draw(c) === tofu);
}"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """This module's own sandbox: it adds the messages above to jonas_k's inbox."""
    server = Sandbox(tmp_path_factory.mktemp("fonts-browser-sandbox")).start()
    for sender, text in MESSAGES.values():
        server.admin(
            "POST", "events", json={"with": ["jonas_k", sender], "sender": sender, "text": text}
        )
    yield server
    server.stop()


def fonts_drawing(page: Page, selector: str) -> list[str]:
    """The platform fonts Chromium drew the text of `selector` with (for the failure message)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return [f"{font['familyName']} ({font['glyphCount']} glyphs)" for font in fonts]


def test_chinese_korean_devanagari_and_emoji_are_drawn_with_real_glyphs(
    page: Page, live_server, sandbox, screenshot
):
    sandbox.register_redirect_uri(live_server.url + "/auth/callback/")
    page.goto(live_server.url)
    page.get_by_role("link", name="Sign in with X").click()
    page.get_by_label(re.compile("Jonas Köhler")).check()
    page.get_by_role("button", name="Authorize app").click()
    expect(page.get_by_label("Signed in as Jonas Köhler")).to_be_visible()
    owner = XAccount.objects.get(username="jonas_k").user_id
    assert sync.sync_account(owner).status == SyncState.IDLE
    page.reload()

    boxes = {}
    for script, (sender, text) in MESSAGES.items():
        row = page.locator(".inbox-row").filter(has_text=f"@{sender}").filter(has_text=text)
        expect(row).to_have_count(1)
        # The whole row: the sender's name is in their own script too (陳美, 김서연, प्रिया शर्मा).
        drawn_as_boxes = row.evaluate(TOFU_IN, row.inner_text())
        if drawn_as_boxes:
            href = row.get_attribute("href")
            boxes[script] = (
                drawn_as_boxes,
                fonts_drawing(page, f'.inbox-row[href="{href}"] .inbox-preview bdi'),
            )
    screenshot(page, "inbox-many-scripts")
    assert boxes == {}, f"drawn as empty boxes (characters, fonts used): {boxes}"
