"""Bad input answers 400 or 404 on SQLite and PostgreSQL alike, and a user without an X account
(a staff user made with createsuperuser) gets a page saying so, never a 500."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conversations.models import Conversation, SyncRun
from conversations.sync import Progress, store_page
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db

CONVERSATION = "1-10"


@pytest.fixture
def reader() -> Client:
    """A signed-in account with one cached conversation (no X behind it: nothing here asks X)."""
    owner = get_user_model().objects.create_user("x1")
    XAccount.objects.create(user=owner, x_user_id="1", username="me", name="Me")
    store_page(
        owner.pk,
        {
            "data": [
                {
                    "id": "1000",
                    "event_type": "MessageCreate",
                    "text": "hello",
                    "sender_id": "10",
                    "dm_conversation_id": CONVERSATION,
                    "created_at": "2026-11-01T10:00:00.000Z",
                }
            ]
        },
        progress=Progress(),
    )
    client = Client()
    client.force_login(owner)
    return client


# PostgreSQL refuses NUL in any text parameter: each of these was a 500 there, a 200 or 404 on
# SQLite.
NUL_URLS = [
    "/?after=%00",
    "/?after=1-%00",
    "/c/%00/",
    f"/c/{CONVERSATION}/?before=%00",
    f"/c/{CONVERSATION}/?after=%00",
    f"/c/{CONVERSATION}/?around=%00",
    "/search/?q=%00",
    "/search/?q=hello&in=%00",
    "/search/?q=hello&cursor=%00",
    "/search/?q=from:%00",
    "/search/?q=in:@%00",
    "/avatar/%00/",
    "/media/%00/full/",
    "/with/?who=%00",
    "/account/avatar/%00/",
    "/?%00=1",
]


@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_anywhere_in_the_url_is_a_400(reader, url):
    assert reader.get(url).status_code == 400
    assert reader.get(url, headers={"HX-Request": "true"}).status_code == 400


@pytest.mark.parametrize("url", ["/with/", f"/c/{CONVERSATION}/older/", "/sync/"])
def test_a_nul_in_a_form_is_a_400(reader, url):
    assert reader.post(url, {"who": "@a\x00b", "before": "\x00"}).status_code == 400
    assert Conversation.objects.count() == 1
    assert SyncRun.objects.count() == 0


def test_a_session_cookie_spelling_nul_is_ignored(reader):
    # A quoted cookie may carry "\\000", which Django's cookie parser turns into NUL.
    nul_session = 'sessionid="' + "\\000" * 32 + '"'
    response = Client().get("/", HTTP_COOKIE=nul_session)
    assert response.status_code == 200
    assert "Sign in with X" in response.content.decode()


def test_a_nul_is_a_400_before_anyone_signs_in():
    assert Client().get("/c/%00/").status_code == 400
    assert Client().get("/?q=%00").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/c/1-\u0661\u0660/",  # Arabic-Indic digits
        "/c/\uff11-\uff11\uff10/",  # full-width
        "/c/1-10%0A/",
        f"/c/{CONVERSATION}/?before=\u0661\u0660\u0660\u0660",
        f"/c/{CONVERSATION}/?before=1000%0A",
        "/?after=1-\u0661\u0660",
        "/search/?q=hello&in=1-\u0661\u0660",
        "/avatar/\u00b2/",
    ],
)
def test_only_ascii_digits_make_an_id(reader, url):
    assert reader.get(url).status_code == 404


# A user without an X account -------------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_user("operator", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?after=1-10",
        "/with/?who=@x",
        "/with/?who=12345",
        f"/c/{CONVERSATION}/",
        "/search/?q=hello",
        "/search/?q=in:@someone",
        "/search/?q=from:me",
    ],
)
def test_a_user_without_an_x_account_is_told_so_on_every_reader_page(staff, url):
    response = staff.get(url)
    assert response.status_code == 403
    content = response.content.decode()
    assert "No X account" in content
    assert "sign in with X" in content


@pytest.mark.parametrize("url", ["/with/", f"/c/{CONVERSATION}/older/", "/sync/"])
def test_a_user_without_an_x_account_cannot_ask_x_for_anything(staff, url):
    for who in ("@x", "12345"):
        response = staff.post(url, {"who": who})
        assert response.status_code == 403
        assert "No X account" in response.content.decode()
    assert SyncRun.objects.count() == 0
