"""The gallery, link cards, jump to date, downloads and where a search result is, on a small fixed
corpus (no sandbox: nothing here crosses X's API; tests/browser/test_media_browser.py does)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conversations import queries
from conversations.sync import Progress, store_page
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db

ME, ANA, BEN, CY = "100", "200", "300", "400"
GROUP = "1585800614365339648"
WITH_ANA = "100-200"
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
HX = {"HX-Request": "true"}


def message(x_id, text, sender, conversation, when, **extra):
    return {
        "id": x_id,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": conversation,
        "created_at": f"2026-11-{when}:00.000Z",
        **extra,
    }


def attached(x_id, key, text=""):
    """A message carrying media `key`, with the t.co link X appends for it."""
    link = f"https://t.co/m{x_id}"
    full = f"{text} {link}" if text else link
    entity = {"start": len(full) - len(link), "end": len(full), "url": link, "media_key": key}
    entity |= {"expanded_url": f"https://x.com/messages/media/{x_id}", "display_url": "pic.x.com/a"}
    return {"text": full, "attachments": {"media_keys": [key]}, "entities": {"urls": [entity]}}


def linked(text, url, **card):
    link = "https://t.co/abcdefghij"
    entity = {"start": len(text) + 1, "end": len(text) + 1 + len(link), "url": link}
    entity |= {"expanded_url": url, "display_url": url.split("//")[1][:25], **card}
    return {"text": f"{text} {link}", "entities": {"urls": [entity]}}


CARD = {
    "title": HOSTILE,
    "description": "A page that <b>tries</b> markup",
    "images": [{"url": "https://evil.example/steal.jpg", "width": 1200, "height": 630}],
}
CORPUS = [
    message("1", "morning all", ANA, GROUP, "01T09:00"),
    message("2", "", BEN, GROUP, "01T13:00") | attached("2", "3_2"),
    message("3", "", ANA, GROUP, "03T10:00") | attached("3", "7_3"),
    message("4", "", CY, GROUP, "03T11:00") | attached("4", "16_4"),
    message("5", "", ME, GROUP, "05T12:00") | attached("5", "3_5", "look"),
    message("6", "", ANA, GROUP, "05T12:30") | linked("read", "https://news.example/a", **CARD),
    message("7", "coffee menu: https://t.co/zzzzzzzzzz", BEN, GROUP, "08T12:00")
    | {
        "entities": {
            "urls": [
                {
                    "start": 13,
                    "end": 36,
                    "url": "https://t.co/zzzzzzzzzz",
                    "expanded_url": "https://coffee.example/menu",
                    "display_url": "coffee.example/menu",
                }
            ]
        }
    },
    message("8", "just us, coffee?", ANA, WITH_ANA, "02T12:00"),
    message("9", "", ANA, WITH_ANA, "04T12:00") | attached("9", "3_9"),
]
INCLUDES = {
    "users": [
        {"id": ME, "name": "Maya", "username": "maya"},
        {"id": ANA, "name": "Ana Lima", "username": "ana"},
        {"id": BEN, "name": "Ben Okoro", "username": "ben"},
        {"id": CY, "name": "Cy Twombly", "username": "cy"},
    ],
    "media": [
        {"media_key": "3_2", "type": "photo", "alt_text": "A cat asleep on a sofa"},
        {"media_key": "7_3", "type": "video", "duration_ms": 12_400},
        {"media_key": "16_4", "type": "animated_gif"},
        {"media_key": "3_5", "type": "photo"},
        {"media_key": "3_9", "type": "photo", "alt_text": "Coffee beans"},
    ],
}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def account(x_id: str, username: str):
    user = get_user_model().objects.create_user(f"x{x_id}")
    XAccount.objects.create(user=user, x_user_id=x_id, username=username, name=username)
    return user


@pytest.fixture
def owner():
    user = account(ME, "maya")
    store_page(user.pk, {"data": CORPUS, "includes": INCLUDES}, progress=Progress())
    return user


@pytest.fixture
def maya(owner) -> Client:
    return client_of(owner)


@pytest.fixture
def stranger() -> Client:
    return client_of(account("999", "yan"))


def tiles(html: str) -> list[str]:
    return re.findall(r'data-download="/download/([^/]+)/"', html)


# The gallery ------------------------------------------------------------------------------------


def test_the_gallery_shows_a_conversation_s_media_newest_first_with_what_the_viewer_needs(maya):
    page = maya.get(f"/c/{GROUP}/media/")
    assert page.status_code == 200
    html = page.content.decode()
    assert tiles(html) == ["3_5", "16_4", "7_3", "3_2"]
    assert 'data-lightbox-group data-lightbox-total="4"' in html and 'id="lightbox"' in html
    assert 'aria-label="Photo from Ben Okoro, 1 Nov 2026: A cat asleep on a sofa"' in html
    assert f'data-context="/c/{GROUP}/?around=3#e3"' in html  # "Show in chat"
    assert "▶ 0:12" in html and ">GIF</span>" in html
    # The conversation's header links to it.
    assert f'href="/c/{GROUP}/media/"' in maya.get(f"/c/{GROUP}/").content.decode()


def test_the_gallery_pages_back_by_keyset_as_htmx_fragments(maya, monkeypatch):
    monkeypatch.setattr(queries, "GALLERY_PAGE", 2)
    first = maya.get(f"/c/{GROUP}/media/").content.decode()
    assert tiles(first) == ["3_5", "16_4"]
    more = re.search(r'hx-get="(/c/[^"]+\?before=4)"', first).group(1)
    fragment = maya.get(more, headers=HX)
    assert "<html" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]
    assert tiles(fragment.content.decode()) == ["7_3", "3_2"]
    assert "gallery-more" not in fragment.content.decode()  # the end
    # Without JavaScript, the same link is a whole page.
    assert "<html" in maya.get(more).content.decode()


def test_a_conversation_without_media_says_so(maya, owner):
    store_page(
        owner.pk,
        {"data": [message("20", "hi", BEN, "100-300", "06T12:00")], "includes": INCLUDES},
        progress=Progress(),
    )
    assert "No photos, videos or GIFs" in maya.get("/c/100-300/media/").content.decode()


# Session, the user with their X account; the conversation and its participants; a page of
# messages with media and their media; the count of all its media.
GALLERY_QUERIES = 7


def test_the_gallery_costs_the_same_queries_for_one_tile_or_many(maya):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for conversation in (WITH_ANA, GROUP):
        with CaptureQueriesContext(connection) as captured:
            assert maya.get(f"/c/{conversation}/media/").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1] == GALLERY_QUERIES, counts


def test_another_account_gets_404_for_the_gallery_downloads_and_link_pictures(maya, stranger):
    for url in (f"/c/{GROUP}/media/", "/download/3_2/", "/link/6/0/", f"/c/{GROUP}/date/"):
        assert stranger.get(url, {"day": "2026-11-01"}).status_code == 404, url
    assert maya.get("/download/3_404/").status_code == 404


# Link cards -------------------------------------------------------------------------------------


def test_a_link_with_a_title_gets_a_card_whose_hostile_words_stay_text(maya):
    html = maya.get(f"/c/{GROUP}/").content.decode()
    card = re.search(r'<a class="link-card".*?</a>', html, re.DOTALL).group(0)
    assert 'href="https://news.example/a"' in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card and "<script>" not in card
    assert "A page that &lt;b&gt;tries&lt;/b&gt; markup" in card
    # The picture comes through our own route, never from where the entity points.
    assert 'src="/link/6/0/"' in card and "evil.example" not in html
    assert html.count('class="link-card"') == 1  # a link without a title has no card


def test_a_card_picture_from_a_host_that_is_not_x_s_is_never_fetched(maya):
    answer = maya.get("/link/6/0/")
    assert answer.status_code == 302 and answer["Location"].endswith(".svg")
    assert maya.get("/link/7/0/").status_code == 404  # no images
    assert maya.get("/link/6/5/").status_code == 404  # no such link


# Jump to date -----------------------------------------------------------------------------------


def test_a_date_opens_the_conversation_at_that_day_s_first_message(maya):
    answer = maya.get(f"/c/{GROUP}/date/", {"day": "2026-11-03"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/c/{GROUP}/?around=3#e3"
    page = maya.get(answer["Location"]).content.decode()
    assert 'class="msg highlight" id="e3"' in page
    assert page.index('id="e2"') < page.index('id="e3"') < page.index('id="e7"')  # both ways


def test_a_day_without_messages_lands_on_the_next_one_and_says_so(maya):
    answer = maya.get(f"/c/{GROUP}/date/", {"day": "2026-11-02"}, follow=True)
    assert answer.redirect_chain[-1][0] == f"/c/{GROUP}/?around=3#e3"
    assert "No messages on 2 November 2026: the next ones are from 3 November 2026." in (
        answer.content.decode()
    )
    later = maya.get(f"/c/{GROUP}/date/", {"day": "2026-12-25"}, follow=True)
    assert later.redirect_chain[-1][0] == f"/c/{GROUP}/?around=7#e7"
    assert "the newest is from 8 November 2026" in later.content.decode()


@pytest.mark.parametrize("day", ["", "tomorrow", "2026-13-01", "2026-11-01T00:00"])
def test_a_malformed_date_asks_for_one(maya, day):
    answer = maya.get(f"/c/{GROUP}/date/", {"day": day}, follow=True)
    assert answer.redirect_chain[-1][0] == f"/c/{GROUP}/"
    assert "Pick a date to jump to." in answer.content.decode()


# Search results ---------------------------------------------------------------------------------


def result_items(html: str) -> list[str]:
    return re.findall(r'<li class="search-result">(.*?)</li>', html, re.DOTALL)


def test_a_search_result_says_which_conversation_and_shows_links_as_written(maya):
    html = maya.get("/search/", {"q": "coffee"}).content.decode()
    by_id = {re.search(r"#e(\d+)", r).group(1): r for r in result_items(html)}
    assert set(by_id) == {"8", "7"}
    assert "with Ana Lima" in by_id["8"]
    assert "in Ana, Ben and Cy" in by_id["7"]
    assert "in a group" not in html
    assert "t.co" not in html
    assert "<mark>coffee</mark>.example/menu" in by_id["7"]


def test_a_photo_s_result_names_the_photo_with_its_alt_text_and_a_thumbnail(maya):
    html = maya.get("/search/", {"q": "has:photo"}).content.decode()
    by_id = {re.search(r"#e(\d+)", r).group(1): r for r in result_items(html)}
    assert set(by_id) == {"2", "5", "9"}
    assert '<span class="marker">Photo</span>A cat asleep on a sofa' in by_id["2"]
    assert '<span class="marker">Photo</span>look' in by_id["5"]
    assert 'class="search-thumb" src="/media/3_9/full/"' in by_id["9"]
    assert "t.co" not in html


def test_inside_one_conversation_results_do_not_repeat_its_name(maya):
    html = maya.get("/search/", {"q": "coffee", "in": GROUP}).content.decode()
    assert "search-result-where" not in html
