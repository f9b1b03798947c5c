"""Search on a fixed corpus, for every operator and their combinations. `make test` runs this
module on SQLite (FTS5) and on PostgreSQL (tsvector + GIN)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conversations import search
from conversations.search import SearchError
from conversations.sync import Progress, store_page
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db

ME, ANA, BEN, CY = "100", "200", "300", "400"
ONE_TO_ONE_ANA = "100-200"
ONE_TO_ONE_BEN = "100-300"
GROUP = "1585800614365339648"

USERS = [
    {"id": ME, "name": "Maya", "username": "maya"},
    {"id": ANA, "name": "Ana Lima", "username": "ana"},
    {"id": BEN, "name": "Ben Okoro", "username": "ben"},
    {"id": CY, "name": "Cy Twombly", "username": "cy"},
]


def message(x_id, text, sender, conversation, day, **extra):
    return {
        "id": x_id,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": conversation,
        "created_at": f"2026-11-{day:02d}T12:00:00.000Z",
        **extra,
    }


CORPUS = [
    message("1", "Let's get coffee at the Café Lumière tomorrow", ANA, ONE_TO_ONE_ANA, 1),
    message("2", "coffee again? you drink too much COFFEE", ME, ONE_TO_ONE_ANA, 2),
    message("3", "The ramen place on 5th is the best ramen in town", BEN, ONE_TO_ONE_BEN, 3),
    message("4", "東京で会いましょう", BEN, ONE_TO_ONE_BEN, 4),
    message("5", "that party was 🔥🔥", CY, GROUP, 5),
    message("6", "naïve question: who booked the flights?", CY, GROUP, 6),
    message("7", "Photo from the trip", ANA, GROUP, 7, attachments={"media_keys": ["3_7"]}),
    message("8", "Video of the waves", BEN, GROUP, 8, attachments={"media_keys": ["7_8"]}),
    message("9", "this gif lol", ANA, ONE_TO_ONE_ANA, 9, attachments={"media_keys": ["16_9"]}),
    message(
        "10",
        "read this https://t.co/abc about coffee",
        ANA,
        ONE_TO_ONE_ANA,
        10,
        entities={
            "urls": [
                {
                    "start": 10,
                    "end": 25,
                    "url": "https://t.co/abc",
                    "expanded_url": "https://example.com/coffee",
                }
            ]
        },
    ),
    message(
        "11",
        "look at this post https://t.co/post",
        BEN,
        ONE_TO_ONE_BEN,
        11,
        referenced_tweets=[{"id": "555"}],
        entities={
            "urls": [
                {
                    "start": 18,
                    "end": 35,
                    "url": "https://t.co/post",
                    "expanded_url": "https://x.com/ben/status/555",
                }
            ]
        },
    ),
    message("12", "the exact phrase we agreed on", ME, ONE_TO_ONE_BEN, 12),
    message("13", "phrase exact, but the other way round", ANA, ONE_TO_ONE_ANA, 13),
    message("14", "<b>bold</b> coffee <script>alert(1)</script>", CY, GROUP, 14),
    message("15", "שלום לכולם, coffee?", CY, GROUP, 15),
]
INCLUDES = {
    "users": USERS,
    "media": [
        {"media_key": "3_7", "type": "photo"},
        {"media_key": "7_8", "type": "video"},
        {"media_key": "16_9", "type": "animated_gif"},
    ],
    "tweets": [{"id": "555", "text": "a post", "author_id": BEN}],
}


@pytest.fixture
def owner():
    user = get_user_model().objects.create_user("x100")
    XAccount.objects.create(user=user, x_user_id=ME, username="maya", name="Maya")
    store_page(user.pk, {"data": CORPUS, "includes": INCLUDES}, progress=Progress())
    store_page(
        user.pk,
        {"data": [{"id": "16", "event_type": "ParticipantsJoin", "participant_ids": [CY], "sender_id": ANA,
                   "dm_conversation_id": GROUP, "created_at": "2026-11-04T12:00:00.000Z"}]},
        progress=Progress(),
    )  # fmt: skip
    return user


def ids(owner, q, **kwargs):
    return [r.event.x_id for r in search.run(owner, search.parse(q), **kwargs).results]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("coffee", ["15", "14", "10", "2", "1"]),
        ("COFFEE", ["15", "14", "10", "2", "1"]),
        ("cafe", ["1"]),  # accents do not matter ...
        ("lumiere", ["1"]),
        ("naive", ["6"]),  # ... either way round
        ("naïve", ["6"]),
        ("coff", ["15", "14", "10", "2", "1"]),  # words match by their beginning
        ("offee", []),  # ... not their middle
        ("ramen town", ["3"]),
        ('"exact phrase"', ["12"]),
        ("exact phrase", ["13", "12"]),
        ("coffee -cafe", ["15", "14", "10", "2"]),
        ('coffee -"drink too"', ["15", "14", "10", "1"]),
        ("東京", ["4"]),
        ("会い", ["4"]),
        ("🔥", ["5"]),
        ("🔥 -party", []),
        ("会い in:@ben", ["4"]),
        ("שלום", ["15"]),
        ("script", ["14"]),
        ("from:@ana", ["13", "10", "9", "7", "1"]),
        ("from:ana coffee", ["10", "1"]),
        ("from:me", ["12", "2"]),
        ("from:@ana from:@ben", ["13", "11", "10", "9", "8", "7", "4", "3", "1"]),
        ("in:@ben", ["12", "11", "4", "3"]),
        ("in:@ana coffee", ["10", "2", "1"]),
        (f"in:{GROUP}", ["15", "14", "8", "7", "6", "5"]),
        ("in:twombly", ["15", "14", "8", "7", "6", "5"]),  # groups with someone of that name
        ("has:media", ["9", "8", "7"]),
        ("has:photo", ["7"]),
        ("has:video", ["8"]),
        ("has:gif", ["9"]),
        ("has:link", ["10"]),  # a shared post's own link is not a link of the message
        ("has:post", ["11"]),
        ("has:media from:@ben", ["8"]),
        ("after:2026-11-10", ["15", "14", "13", "12", "11"]),
        ("before:2026-11-03", ["2", "1"]),
        ("after:2026-11-01 before:2026-11-10 coffee", ["2"]),
        ("in:@ana has:link coffee after:2026-11-09", ["10"]),
    ],
)
def test_queries_find_exactly_what_they_say(owner, q, expected):
    assert ids(owner, q) == expected


def test_system_events_are_not_search_results(owner):
    assert "16" not in ids(owner, "in:twombly")


@pytest.mark.parametrize(
    "q",
    ['"unclosed', "has:pdf", "before:yesterday", "from:@nobody", "in:@nobody", "-coffee", "from:"],
)
def test_a_malformed_query_gets_a_helpful_message(owner, q):
    with pytest.raises(SearchError) as problem:
        search.run(owner, search.parse(q))
    assert len(str(problem.value)) > 10


def test_best_match_ranks_the_densest_message_first(owner):
    assert ids(owner, "coffee", order="best")[0] == "2"  # says it twice


def test_results_page_by_keyset_in_both_orders(owner):
    for order in ("newest", "best"):
        everything = ids(owner, "coffee", order=order)
        seen, cursor = [], ""
        while True:
            page = search.run(owner, search.parse("coffee"), order=order, cursor=cursor, limit=2)
            seen += [r.event.x_id for r in page.results]
            cursor = page.cursor
            if not cursor:
                break
        assert seen == everything


def test_a_forged_cursor_is_refused(owner):
    for cursor in ("'; drop table x", "99999", "abc:1"):
        with pytest.raises(SearchError):
            search.run(
                owner,
                search.parse("coffee"),
                cursor=cursor,
                order="best" if ":" in cursor else "newest",
            )


def test_highlighting_marks_the_words_and_escapes_the_markup(owner):
    [result] = [r for r in search.run(owner, search.parse("bold coffee")).results]
    assert str(result.snippet) == (
        "&lt;b&gt;<mark>bold</mark>&lt;/b&gt; <mark>coffee</mark> &lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_highlighting_lands_on_the_original_accented_letters(owner):
    [result] = search.run(owner, search.parse("cafe lumiere")).results
    assert "<mark>Café</mark> <mark>Lumière</mark>" in str(result.snippet)


def test_a_long_message_is_cut_around_the_first_match():
    text = "x " * 300 + "needle" + " y" * 300
    snippet = str(search.highlight(text, search.parse("needle").include))
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>needle</mark>" in snippet and len(snippet) < 260


def test_one_account_never_sees_anothers_results(owner):
    other = get_user_model().objects.create_user("x999")
    XAccount.objects.create(user=other, x_user_id="999", username="zed", name="Zed")
    assert ids(other, "coffee") == []
    store_page(
        other.pk,
        {"data": [message("1", "coffee for zed", "999", "200-999", 1)]},
        progress=Progress(),
    )
    assert ids(other, "coffee") == ["1"]
    assert ids(owner, "zed") == []


def test_new_events_are_searchable_as_soon_as_sync_stores_them(owner):
    assert ids(owner, "flamingo") == []
    store_page(
        owner.pk,
        {"data": [message("99", "a pink flamingo", ANA, ONE_TO_ONE_ANA, 20)]},
        progress=Progress(),
    )
    assert ids(owner, "flamingo") == ["99"]


def test_a_message_with_several_media_is_found_by_each_of_their_kinds(owner):
    # An archive's message can carry more than one: has:photo is any photo among them.
    store_page(
        owner.pk,
        {"data": [message("20", "holiday album", ANA, GROUP, 20, attachments={"media_keys": ["3_20", "16_20"]})],
         "includes": {"media": [{"media_key": "3_20", "type": "photo"},
                                {"media_key": "16_20", "type": "animated_gif"}]}},
        progress=Progress(),
    )  # fmt: skip
    assert ids(owner, "has:photo") == ["20", "7"]
    assert ids(owner, "has:gif") == ["20", "9"]
    assert ids(owner, "has:video") == ["8"]
    assert ids(owner, "holiday has:media") == ["20"]
    assert ids(owner, "has:photo has:gif") == ["20"]


def test_a_photo_whose_type_comes_later_is_found_by_has_photo_from_then_on(owner):
    # Stored first without its type (an include that left it out), the medium is media all the
    # same; a later page that names it a photo makes the message a photo's.
    page = [message("21", "look at this", ANA, GROUP, 21, attachments={"media_keys": ["3_21"]})]
    store_page(
        owner.pk,
        {"data": page, "includes": {"media": [{"media_key": "3_21"}]}},
        progress=Progress(),
    )
    assert ids(owner, "look has:media") == ["21"]
    assert ids(owner, "has:photo") == ["7"]
    store_page(
        owner.pk,
        {"data": page, "includes": {"media": [{"media_key": "3_21", "type": "photo"}]}},
        progress=Progress(),
    )
    assert ids(owner, "has:photo") == ["21", "7"]
    assert ids(owner, "look has:photo", order="best") == ["21"]
    assert ids(owner, "has:video") == ["8"]


def test_media_searches_read_the_events_with_media_through_their_own_index(owner):
    from django.db import connection

    # The indexes are partial (events with media; on PostgreSQL, also with photos, videos, GIFs):
    # a query that does not state an index's condition cannot use it, and has:photo would walk
    # the whole timeline for photos.
    for q, kind in [("has:photo", "photo"), ("has:media", "media"), ("you has:video", "video")]:
        index = kind if connection.vendor == "postgresql" else "media"
        events = search._filtered(search._scoped(owner, search.parse(q)), search.Query())
        sql, params = events.order_by("-created_at", "-sort_id")[:21].query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # as at a million events, not a few rows
                for setting in ("seqscan", "bitmapscan", "sort"):
                    cursor.execute(f"SET LOCAL enable_{setting} = off")
            cursor.execute(
                "EXPLAIN " + ("QUERY PLAN " if connection.vendor == "sqlite" else "") + sql, params
            )
            plan = str(cursor.fetchall())
        assert f"dmevent_owner_{index}_time" in plan, (q, plan)
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, (q, plan)


def test_search_inside_one_conversation(owner):
    from conversations.models import Conversation

    group = Conversation.objects.get(owner=owner, x_id=GROUP)
    assert ids(owner, "coffee", conversation=group) == ["15", "14"]


def _client_for(owner):
    client = Client()
    client.force_login(owner)
    return client


def test_the_search_page_shows_highlighted_results_with_their_place(owner):
    page = _client_for(owner).get("/search/", {"q": "cafe"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<mark>Café</mark>" in html
    assert f"/c/{ONE_TO_ONE_ANA}/?around=1#e1" in html
    assert "Ana Lima" in html


def test_the_search_page_explains_a_malformed_query_instead_of_failing(owner):
    page = _client_for(owner).get("/search/", {"q": "has:pdf"})
    assert page.status_code == 200
    assert "has:pdf is not known" in page.content.decode()


def test_the_next_page_of_results_comes_as_an_htmx_fragment(owner):
    client = _client_for(owner)
    first = client.get("/search/", {"q": "coffee"})
    assert first.status_code == 200
    fragment = client.get(
        "/search/", {"q": "coffee", "cursor": "10"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]
    assert "around=2#e2" in fragment.content.decode()


def test_another_accounts_conversation_cannot_be_searched_in(owner):
    other = get_user_model().objects.create_user("x998")
    XAccount.objects.create(user=other, x_user_id="998", username="yan", name="Yan")
    assert _client_for(other).get("/search/", {"q": "coffee", "in": GROUP}).status_code == 404


def test_a_result_opens_its_conversation_around_the_message_highlighted(owner):
    page = _client_for(owner).get(f"/c/{GROUP}/", {"around": "8"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="msg highlight" id="e8"' in html
    # Context on both sides of it, in order.
    assert html.index('id="e7"') < html.index('id="e8"') < html.index('id="e14"')


def test_scrolling_down_from_a_result_loads_the_newer_messages(owner):
    from conversations import queries

    queries_page = queries.PAGE
    queries.PAGE = 2  # a small window, so there is something below it
    try:
        client = _client_for(owner)
        html = client.get(f"/c/{GROUP}/", {"around": "6"}).content.decode()
        assert 'id="e15"' not in html
        assert "?after=" in html
        newest_shown = html.split("?after=")[1].split('"')[0]
        fragment = client.get(
            f"/c/{GROUP}/", {"after": newest_shown}, headers={"HX-Request": "true"}
        )
    finally:
        queries.PAGE = queries_page
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert 'id="e14"' in fragment.content.decode() or 'id="e15"' in fragment.content.decode()


def test_a_forged_around_or_after_cursor_is_404(owner):
    client = _client_for(owner)
    for params in (
        {"around": "x' or 1=1"},
        {"after": "123456"},
        {"around": "3"},
    ):  # 3 is in another chat
        assert client.get(f"/c/{GROUP}/", params).status_code == 404


# Fast at a million events (issue 13): the plans change, the results do not --------------------

QUERIES = [q for q, _ in test_queries_find_exactly_what_they_say.pytestmark[0].args[1]]


def newest_by_index(owner, q):
    """What the query matches by the single-SQL reference (the full-text index), newest first."""
    events = search.matching(owner, search.parse(q)).order_by("-created_at", "-sort_id")
    return list(events.values_list("x_id", flat=True))


@pytest.fixture(params=["walk", "index", "index, narrow window", "index, no window"])
def short_stretches(request, monkeypatch):
    """Read the timeline two rows at a time and give up on it after six, so a small corpus goes
    through every plan: walking several stretches, and the index for the rest; or, where the
    index's own counts say it is cheaper, the index right after the first stretch (on
    PostgreSQL first for a window of time, then for what is older: a window too narrow for the
    page, or none, leaves most or all of it to the second query)."""
    monkeypatch.setattr(search, "_FIRST_WINDOW", 2)
    monkeypatch.setattr(search, "WALK_BUDGET", 6)
    monkeypatch.setattr(search, "_POSTGRES_FIRST_WINDOW", 2)
    margin = {"index, narrow window": 0.5, "index, no window": 0}.get(request.param)
    if margin is not None:
        monkeypatch.setattr(search, "TIME_WINDOW_MARGIN", margin)
    cost = {"walk": 1000.0}.get(request.param, 0.0)
    monkeypatch.setattr(search, "_INDEX_MATCH_COST", cost)
    monkeypatch.setattr(search, "_POSTGRES_INDEX_MATCH_COST", cost)
    monkeypatch.setattr(search, "_POSTGRES_CHARACTER_MATCH_COST", cost)
    monkeypatch.setattr(search, "_POSTGRES_SCATTERED_MATCH_COST", cost)


@pytest.mark.parametrize("q", QUERIES)
def test_every_query_finds_the_same_whatever_plan_reads_it(owner, short_stretches, q):
    assert ids(owner, q) == newest_by_index(owner, q)
    assert ids(owner, q, limit=2) == newest_by_index(owner, q)[:2]


TRICKY = [
    "bayou you're young",  # "you" inside a word, and before an apostrophe
    "日本you",  # no space between a CJK word and a Latin one: one token to the index
    "🔥you",  # an emoji is a break between words
    "naïve yoü",  # accents folded before indexing
    "\uff39\uff2f\uff35",  # full-width letters
    "नमस्ते you",  # Devanagari, with its vowel signs
    "x-you y_you",  # punctuation breaks words; the underscore too once folded
    "see you tomorrow",
    "see  you,  tomorrow",
    "you see tomorrow",
    "tomorrow",
]


@pytest.fixture
def tricky(owner):
    store_page(
        owner.pk,
        {"data": [message(str(200 + i), text, ANA, ONE_TO_ONE_ANA, 20) for i, text in enumerate(TRICKY)]},
        progress=Progress(),
    )  # fmt: skip
    return owner


@pytest.mark.parametrize(
    "q", ["you", "yo", "YOU", "you -tomorrow", '"see you tomorrow"', "tomorrow -see", "nam"]
)
def test_words_are_told_apart_exactly_as_the_index_tells_them(tricky, short_stretches, q):
    assert ids(tricky, q) == newest_by_index(tricky, q)
    assert ids(tricky, q, limit=3) == newest_by_index(tricky, q)[:3]


def test_a_common_word_is_not_read_from_the_index_match_by_match(owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    store_page(
        owner.pk,
        {"data": [message(str(300 + i), f"coffee number {i}", ANA, ONE_TO_ONE_ANA, 20) for i in range(30)]},
        progress=Progress(),
    )  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        found = ids(owner, "coffee")
    assert found == [str(329 - i) for i in range(20)]
    # SQLite: FTS5 hands over every match before the newest can be picked (518 ms for "you" at a
    # million events), so a word found often in the newest messages is looked for there.
    assert not [q for q in captured.captured_queries if "conversations_dmevent_fts" in q["sql"]]


def test_an_excluded_word_is_never_looked_up_on_its_own(owner):
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert ids(owner, "coffee -drink") == ["15", "14", "10", "1"]
    # Alone, the excluded word would be every message that has it (424,567 ids for "you"): it is
    # folded into the words' own expression (`a NOT b`, `a & !b`) or decided on the rows found.
    for executed in captured.captured_queries:
        for expression in re.findall(r"'[^']*drink[^']*'", executed["sql"]):
            assert "coffee" in expression


def test_from_someone_reads_their_messages_through_an_index_in_date_order(owner):
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "conversations_dmevent")
    columns = [c["columns"] for c in constraints.values() if c["index"]]
    assert ["owner_id", "sender_x_id", "created_at", "sort_id"] in columns
    if connection.vendor == "sqlite":
        events = search._filtered(search._scoped(owner, search.parse("from:@ana")), search.Query())
        sql, params = events.order_by("-created_at", "-sort_id")[:21].query.sql_with_params()
        with connection.cursor() as cursor:
            plan = str(cursor.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
        assert "dmevent_owner_sender_time" in plan and "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("q", "expected"),
    [("東京", ["4"]), ("🔥 from:@cy", ["5"]), ("京で", ["4"]), ("🔥東京", []), ("🫠", [])],
)
def test_text_with_no_words_to_index_is_found_through_its_characters(
    owner, monkeypatch, q, expected
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # As for a text rarer than a stretch of the timeline holds: the index of characters, not the walk.
    monkeypatch.setattr(search, "_FIRST_WINDOW", 1)
    monkeypatch.setattr(search, "_POSTGRES_FIRST_WINDOW", 1)
    with CaptureQueriesContext(connection) as captured:
        assert ids(owner, q) == expected
    sql = "\n".join(query["sql"] for query in captured.captured_queries)
    if connection.vendor == "sqlite":
        assert "conversations_dmevent_characters MATCH" in sql
        return
    # Migration 0015's index must be the one search's expression asks: written otherwise, the
    # planner could not use it and 東京 would scan the owner's rows (170 ms at a million events).
    assert f"{search.UNINDEXED_CHARACTERS} @>" in sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT 1 FROM conversations_dmevent"
            f" WHERE {search.UNINDEXED_CHARACTERS} @> %s::text[]",
            [["東", "京"]],
        )
        assert "conversations_dmevent_characters" in str(cursor.fetchall())


def test_the_characters_index_holds_each_character_once_and_no_spaces():
    # The index's tokenizer takes Unicode's spaces for breaks: a space kept would be a token no
    # message holds, and 東\u3000京 would find nothing.
    assert search.characters_of("東京\u3000東 🔥🔥 😀\u200d x") == "\u200d 京 東 🔥 😀"
    assert search.characters_of("plain ascii") == ""
    # A space to SQLite's tokenizer (its Unicode tables predate 6.3), though Python's say otherwise.
    assert search.characters_of("a\u180eb 🔥") == "🔥"


def test_a_page_of_results_loads_only_what_it_shows(owner, django_assert_num_queries):
    results = search.run(owner, search.parse("coffee")).results
    assert {"raw", "participant_ids"} <= results[0].event.get_deferred_fields()
    with django_assert_num_queries(0):
        for result in results:
            event = result.event
            shown = [event.x_id, event.created_at, event.sender_x_id, event.text, event.entities]
            shown += [event.conversation.x_id, event.conversation.is_group]
            shown += [event.sender.name, event.sender.username, event.sender.x_id]
            shown += [p.name for p in event.conversation.participants.all()]
            shown += [m.type for m in event.media.all()] + list(event.shared_posts.all())
            assert all(value is not None for value in shown)


def test_the_search_page_costs_the_same_queries_for_few_results_or_many(owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client_for(owner)
    counts = []
    for q in ("cafe", "coffee", "the"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/search/", {"q": q}).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1] == counts[2]


def test_best_match_ranks_the_newest_matches(owner, monkeypatch):
    # Ranking every match of a common word reads half the cache; the newest ones are ranked.
    monkeypatch.setattr(search, "BEST_CANDIDATES", 3)
    assert sorted(ids(owner, "coffee", order="best")) == ["10", "14", "15"]
    monkeypatch.setattr(search, "BEST_CANDIDATES", 200)
    assert ids(owner, "coffee", order="best")[0] == "2"


def test_best_match_says_when_it_ranked_only_the_newest_matches(owner, monkeypatch):
    monkeypatch.setattr(search, "BEST_CANDIDATES", 3)
    page = search.run(owner, search.parse("coffee"), order="best")
    assert page.ranked_newest == 3
    assert "newest 3 matches" in page.note
    # Every match ranked, or newest first: nothing to say.
    monkeypatch.setattr(search, "BEST_CANDIDATES", 5)
    assert search.run(owner, search.parse("coffee"), order="best").note == ""
    monkeypatch.setattr(search, "BEST_CANDIDATES", 3)
    assert search.run(owner, search.parse("coffee")).note == ""
    # The results page tells the person, and only for best match.
    client = _client_for(owner)
    best = client.get("/search/", {"q": "coffee", "order": "best"}).content.decode()
    assert "Best match ranks the newest 3 matches; to look further back" in best
    assert "Best match ranks" not in client.get("/search/", {"q": "coffee"}).content.decode()


def test_the_sieve_splits_words_with_the_indexs_own_tokenizer(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the sieve decides words for SQLite's FTS5 index only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'conversations_dmevent_fts'")
        [(created,)] = cursor.fetchall()
    assert search.FTS5_TOKENIZER in created


def test_a_rare_word_past_the_walk_is_read_from_the_index_with_no_date_range(
    owner, short_stretches
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the walk and its stretches are SQLite's")
    with CaptureQueriesContext(connection) as captured:
        assert ids(owner, "coffee has:link") == ["10"]
    joined = [q["sql"] for q in captured.captured_queries if "_fts" in q["sql"]]
    # Where the walk ended is written so no index serves it: a date range beside the MATCH made
    # SQLite walk the time index and ask FTS5 row by row (a rare word with has:link after:,
    # seconds at a million events; bench/search_bench.py).
    assert joined and not [sql for sql in joined if '"created_at" <' in sql]


def test_a_word_before_a_date_is_read_from_the_index_with_no_date_range(owner, short_stretches):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the walk and its stretches are SQLite's")
    with CaptureQueriesContext(connection) as captured:
        assert ids(owner, "coffee before:2026-11-12") == ["10", "2", "1"]
    joined = [q["sql"] for q in captured.captured_queries if "_fts" in q["sql"]]
    # The query's own dates beside a MATCH led SQLite to ask FTS5 row by row for every event
    # in the range (44 ms for "tomo" in a week at a million events, 15 through the index).
    assert all('"created_at" <' not in sql and '"created_at" >=' not in sql for sql in joined)


def test_a_short_date_range_is_read_to_its_end_rather_than_from_the_index(owner, short_stretches):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the walk and its stretches are SQLite's")
    with CaptureQueriesContext(connection) as captured:
        assert ids(owner, "coffee after:2026-11-09 before:2026-11-16") == ["15", "14", "10"]
    # What is left of the range fits in the walk's budget: the index would read every match of
    # the words, whenever written ("tomo" in a week a year back: 21 ms against 80).
    joined = "conversations_dmevent_fts.rowid = conversations_dmevent.id"
    assert not [q for q in captured.captured_queries if joined in q["sql"]]


def test_each_stretch_of_the_walk_has_one_lower_date_bound(owner, short_stretches):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the walk and its stretches are SQLite's")
    with CaptureQueriesContext(connection) as captured:
        assert ids(owner, "coffee after:2026-10-01") == ["15", "14", "10", "2", "1"]
    sent = [q["sql"] for q in captured.captured_queries]
    stretches = [sql for sql in sent if "LIKE" in sql and "_fts" not in sql]
    # Two (after: and the stretch's end) and SQLite ranged over the looser one: 2.5 s for a rare
    # word with after:2025-01-01 at a million events, reading every row since that day.
    assert stretches and all(sql.count('"created_at" >=') == 1 for sql in stretches)


def test_the_messages_after_a_result_are_read_from_it_not_from_the_oldest(owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations import queries
    from conversations.models import Conversation

    group = Conversation.objects.get(owner=owner, x_id=GROUP)
    anchor = queries.visible_to(owner).get(x_id="6")
    with CaptureQueriesContext(connection) as captured:
        page = queries.events_after(owner, group, (anchor.created_at, anchor.sort_id))
    assert [e.x_id for e in page.events] == ["7", "8", "14", "15"]
    [sql] = [q["sql"] for q in captured.captured_queries if "ASC LIMIT" in q["sql"]]
    # The anchor as a range an index can start from (created_at >= beside the OR): without it
    # PostgreSQL read a 100,000-event conversation from its oldest message up to a result
    # halfway back (470 ms at 1M events, bench/reader_bench.py).
    assert '"created_at" >=' in sql
