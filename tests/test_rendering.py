"""What a person reads: message text with X's entities, previews, names, times and the timeline.
Plain unsaved model objects: rendering reads no database."""

# Texts in many scripts are the point here (RUF001).
# ruff: noqa: RUF001

from datetime import UTC, datetime, timedelta

import pytest
from django.utils.html import escape

from conversations import rendering
from conversations.models import Conversation, DmEvent, XUser

NOW = datetime(2026, 3, 19, 15, 0, tzinfo=UTC)  # a Thursday
MAYA = XUser(x_id="1432706037263519745", username="maya_reads", name="Maya Okafor")
THEO = XUser(x_id="2893011764", username="theo_park", name="Theo Park")


def message(text: str, **entities) -> DmEvent:
    return DmEvent(
        x_id="1",
        event_type=DmEvent.MESSAGE_CREATE,
        created_at=NOW,
        text=text,
        sender=THEO,
        sender_x_id=THEO.x_id,
        entities=entities,
    )


def url(text: str, part: str, expanded: str, **extra) -> dict:
    start = text.index(part)
    return {"start": start, "end": start + len(part), "url": part, "expanded_url": expanded} | extra


# Hostile text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '<script>alert("dm")</script>',
        '"><img src=x onerror=alert(1)>',
        "{{ 7*7 }} {% debug %} <b>not bold</b> &lt;i&gt;",
        "javascript:alert(1)",
    ],
)
def test_message_text_is_escaped_and_never_becomes_markup(text):
    html = rendering.message_html(message(text))
    assert html == escape(text)
    assert "<" not in html
    assert "<a" not in html


def test_a_javascript_url_in_expanded_url_does_not_become_a_link():
    text = "click https://t.co/evil please"
    for target in ("javascript:alert(1)", " JavaScript:alert(1)", "java\nscript:alert(1)"):
        entity = url(text, "https://t.co/evil", target, display_url="example.com")
        html = rendering.message_html(message(text, urls=[entity]))
        assert "<a" not in html
        assert "javascript" not in html.lower()
        assert html == text


def test_data_and_relative_urls_and_unparsable_ones_do_not_become_links():
    text = "see https://t.co/x"
    for target in ("data:text/html,<script>alert(1)</script>", "//evil.example/", "http://[::1"):
        entity = url(text, "https://t.co/x", target)
        assert rendering.message_html(message(text, urls=[entity])) == text


def test_a_hostile_display_url_is_escaped_inside_a_safe_link():
    text = "look https://t.co/a"
    entity = url(text, "https://t.co/a", 'https://ok.example/?q="><script>', display_url="<b>x</b>")
    html = rendering.message_html(message(text, urls=[entity]))
    assert html == (
        'look <a href="https://ok.example/?q=&quot;&gt;&lt;script&gt;" '
        'rel="noopener noreferrer nofollow" target="_blank">&lt;b&gt;x&lt;/b&gt;</a>'
    )


# Links ---------------------------------------------------------------------------------------


def test_a_url_shows_its_display_url_and_links_to_the_unwound_url_not_t_co():
    text = "tickets: https://t.co/abc ok"
    entity = url(
        text,
        "https://t.co/abc",
        "https://bit.ly/3xK9pQz",
        display_url="bit.ly/3xK9pQz",
        unwound_url="https://tickets.example/booking/42",
    )
    html = rendering.message_html(message(text, urls=[entity]))
    assert html == (
        'tickets: <a href="https://tickets.example/booking/42" rel="noopener noreferrer nofollow" '
        'target="_blank">bit.ly/3xK9pQz</a> ok'
    )
    assert "t.co" not in html


def test_mentions_hashtags_and_cashtags_link_to_x_and_keep_the_text_as_written():
    text = "cc @Jonas_K #LisbonTrip $AAPL"
    html = rendering.message_html(
        message(
            text,
            mentions=[{"start": 3, "end": 11, "username": "jonas_k"}],
            hashtags=[{"start": 12, "end": 23, "tag": "LisbonTrip"}],
            cashtags=[{"start": 24, "end": 29, "tag": "AAPL"}],
        )
    )
    attrs = 'rel="noopener noreferrer nofollow" target="_blank"'
    assert html == (
        f'cc <a href="https://x.com/jonas_k" {attrs}>@Jonas_K</a> '
        f'<a href="https://x.com/hashtag/LisbonTrip" {attrs}>#LisbonTrip</a> '
        f'<a href="https://x.com/search?q=%24AAPL" {attrs}>$AAPL</a>'
    )


def test_a_tag_cannot_walk_out_of_x_s_hashtag_path():
    text = "#x"
    html = rendering.message_html(
        message(text, hashtags=[{"start": 0, "end": 2, "tag": "../../i"}])
    )
    assert 'href="https://x.com/hashtag/..%2F..%2Fi"' in html


def test_a_mention_of_an_impossible_username_is_left_as_text():
    text = "hi @x"
    for username in ("evil/../path", "a" * 16, "", None, 42):
        mention = {"start": 3, "end": 5, "username": username}
        assert rendering.message_html(message(text, mentions=[mention])) == text


def test_entity_indices_count_code_points_after_emoji_and_right_to_left_text():
    # Four emoji (two of them multi-code-point sequences) and Arabic before the mention: in UTF-16
    # or bytes the indices would land elsewhere.
    text = "👩🏾‍💻🇰🇷 صورة @maya_reads 📷 #تصوير"
    mention_start = text.index("@")
    tag_start = text.index("#")
    html = rendering.message_html(
        message(
            text,
            mentions=[
                {"start": mention_start, "end": mention_start + 11, "username": "maya_reads"}
            ],
            hashtags=[{"start": tag_start, "end": len(text), "tag": "تصوير"}],
        )
    )
    assert html.startswith('👩🏾‍💻🇰🇷 صورة <a href="https://x.com/maya_reads"')
    assert '>@maya_reads</a> 📷 <a href="https://x.com/hashtag/%D8%AA' in html
    assert html.endswith(">#تصوير</a>")


def test_line_breaks_and_right_to_left_text_are_kept_as_written():
    text = "שלום\nصباح الخير\n\nhello"
    assert rendering.message_html(message(text)) == text


def test_overlapping_entities_keep_the_first_and_drop_the_rest():
    text = "see https://t.co/abc now"
    first = url(text, "https://t.co/abc", "https://a.example/", display_url="a.example")
    overlapping = {"start": 8, "end": 12, "username": "theo_park"}
    html = rendering.message_html(message(text, urls=[first], mentions=[overlapping]))
    assert html.count("<a ") == 1
    assert 'href="https://a.example/"' in html
    assert "theo_park" not in html


@pytest.mark.parametrize(
    "start,end",
    [(-1, 3), (3, 99), (5, 5), (6, 4), ("0", "3"), (None, 3), (True, 3), (0.0, 3.0)],
)
def test_entities_out_of_range_or_malformed_are_ignored(start, end):
    text = "hello"
    mention = {"start": start, "end": end, "username": "theo_park"}
    assert rendering.message_html(message(text, mentions=[mention])) == "hello"


def test_entities_that_are_not_what_x_sends_are_ignored():
    for entities in ({"urls": "nope"}, {"urls": [None, 3, "x"]}, {"mentions": {"a": 1}}):
        assert rendering.message_html(message("hello", **entities)) == "hello"
    event = message("hello")
    event.entities = ["not", "a", "dict"]
    assert rendering.message_html(event) == "hello"


def test_a_media_link_is_hidden_because_the_photo_stands_for_it():
    text = "dinner tonight https://t.co/pic"
    entity = url(
        text,
        "https://t.co/pic",
        "https://x.com/messages/media/1",
        display_url="pic.x.com/pic",
        media_key="3_1",
    )
    event = message(text, urls=[entity])
    assert rendering.message_html(event) == "dinner tonight"
    assert rendering.preview_text(event) == "dinner tonight"


def test_a_shared_post_link_is_hidden_when_its_card_is_shown_and_linked_otherwise():
    text = "did you see https://t.co/post"
    entity = url(
        text,
        "https://t.co/post",
        "https://x.com/marcus_bell/status/1900000000000000001",
        display_url="x.com/marcus_bell/st…",
    )
    event = message(text, urls=[entity])
    assert rendering.message_html(event, {"1900000000000000001"}) == "did you see"
    assert rendering.preview_text(event, {"1900000000000000001"}) == "did you see"
    assert ">x.com/marcus_bell/st…</a>" in rendering.message_html(event)


# Previews ------------------------------------------------------------------------------------


def test_a_preview_is_one_line_with_links_as_shown_not_raw_t_co():
    text = "ok this is wild\n\nhttps://t.co/gFi1SlSvLh   see?"
    entity = url(
        text, "https://t.co/gFi1SlSvLh", "https://news.example/story", display_url="news.example/…"
    )
    preview = rendering.preview_text(message(text, urls=[entity]))
    assert preview == "ok this is wild news.example/… see?"


def test_a_preview_is_plain_text_that_the_template_escapes():
    assert rendering.preview_text(message("<script>x</script>")) == "<script>x</script>"
    assert not hasattr(rendering.preview_text(message("<b>")), "__html__")


def test_a_shared_post_s_text_shows_links_as_written_and_leaves_out_its_photo_link():
    text = "new post https://t.co/link\nphoto https://t.co/pic"
    entities = {
        "urls": [
            url(text, "https://t.co/link", "https://blog.example/a", display_url="blog.example/a"),
            url(text, "https://t.co/pic", "https://x.com/i/photo", media_key="3_1"),
        ]
    }
    assert rendering.plain_text(text, entities) == "new post blog.example/a\nphoto"
    assert rendering.plain_text("", None) == ""


# Names, titles and times ---------------------------------------------------------------------


def test_a_one_to_one_is_titled_by_the_other_person():
    assert rendering.conversation_title([MAYA, THEO], MAYA.x_id) == "Theo Park"
    assert rendering.conversation_title([MAYA], MAYA.x_id) == "Just you"


def test_a_group_title_names_four_by_first_name_and_counts_the_rest_in_any_order():
    people = [
        XUser(x_id="5", name="Ben Ortega"),
        XUser(x_id="3", name="ana"),
        XUser(x_id="9", name="Cy"),
        XUser(x_id="7", name="Dee"),
        XUser(x_id="8", username="only_handle"),
        XUser(x_id="4", name="Eve"),
        MAYA,
    ]
    title = rendering.conversation_title(people, MAYA.x_id)
    assert title == "ana, Ben, Cy, Dee and 2 others"
    assert rendering.conversation_title(people[::-1], MAYA.x_id) == title
    assert rendering.conversation_title([*people[:2], MAYA], MAYA.x_id) == "ana and Ben"
    assert rendering.conversation_title([*people[:3], MAYA], MAYA.x_id) == "ana, Ben and Cy"
    assert rendering.conversation_title([*people[:5], MAYA], MAYA.x_id) == (
        "ana, Ben, Cy, Dee and 1 other"
    )


def test_two_groups_of_the_same_friends_get_titles_that_tell_them_apart():
    """The seeded world's Lisbon trip and Theo's birthday share their first three people."""
    friends = [
        XUser(x_id="11", name="Aiko Tanaka"),
        XUser(x_id="12", name="Inês Carvalho"),
        XUser(x_id="13", name="Jonas Köhler"),
        XUser(x_id="14", name="Sam Rivera"),
    ]
    trip = [*friends, XUser(x_id="15", name="Rafa Souza"), XUser(x_id="16", name="Theo Park")]
    birthday = [*friends, XUser(x_id="17", name="Marcus Bell"), XUser(x_id="18", name="Seo-yeon")]
    assert rendering.conversation_title(trip, MAYA.x_id) == "Aiko, Inês, Jonas, Rafa and 2 others"
    assert rendering.conversation_title(birthday, MAYA.x_id) == (
        "Aiko, Inês, Jonas, Marcus and 2 others"
    )


def test_first_names_that_two_people_share_are_given_in_full():
    people = [XUser(x_id="1", name="Ada Okafor"), XUser(x_id="2", name="Ada Lovelace"), MAYA]
    assert rendering.conversation_title(people, MAYA.x_id) == "Ada Lovelace and Ada Okafor"
    people.append(XUser(x_id="3", name="Chidi Okafor"))
    assert rendering.conversation_title(people, MAYA.x_id) == "Ada Lovelace, Ada Okafor and Chidi"


def test_a_named_group_is_titled_by_its_owners_name_then_the_archives():
    group = Conversation(
        pk=1, x_id="1700000000000000001", is_group=True, archive_name="Lisbon trip"
    )
    group._prefetched_objects_cache = {"participants": XUser.objects.none()}
    assert rendering.title(group, MAYA.x_id) == "Lisbon trip"
    group.name = "<b>Trip</b> 🇵🇹"
    assert rendering.title(group, MAYA.x_id) == "<b>Trip</b> 🇵🇹"
    group.name = group.archive_name = ""
    assert rendering.title(group, MAYA.x_id) == "Just you"


def test_a_group_title_puts_accounts_x_no_longer_returns_last():
    gone = XUser(x_id="811298434", unavailable=True)
    people = [gone, XUser(x_id="5", name="Fatima"), XUser(x_id="6", name="Layla"), MAYA]
    assert rendering.conversation_title(people, MAYA.x_id) == "Fatima, Layla and User 811298434"
    assert rendering.conversation_title([gone, MAYA], MAYA.x_id) == "User 811298434"


def test_a_sender_x_no_longer_returns_is_shown_by_id():
    assert rendering.display_name(None, "811298434") == "User 811298434"
    assert rendering.handle(None, "811298434") == "user 811298434"
    assert rendering.display_name(XUser(x_id="1", username="jo")) == "@jo"


@pytest.mark.parametrize(
    "age,expected",
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=3, seconds=30), "3 min"),
        (timedelta(hours=5, minutes=59), "5 h"),
        (timedelta(days=2), "Tue"),
        (timedelta(days=7), "12 Mar"),
        (timedelta(days=80), "29 Dec 2025"),
        (timedelta(seconds=-30), "just now"),  # a clock a little ahead of ours
    ],
)
def test_relative_time_reads_like_x_s_inbox(age, expected):
    assert rendering.relative_time(NOW - age, now=NOW) == expected


@pytest.mark.parametrize(
    "age,expected",
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(seconds=-5), "just now"),
        (timedelta(minutes=5), "5\xa0minutes ago"),
    ],
)
def test_a_sync_a_moment_ago_was_just_now_not_0_minutes_ago(age, expected):
    assert rendering.time_since(NOW - age, now=NOW) == expected


def test_relative_time_of_nothing_is_empty():
    assert rendering.relative_time(None) == ""


# The timeline --------------------------------------------------------------------------------


def event_at(x_id: str, at: datetime, sender: XUser | None, **fields) -> DmEvent:
    return DmEvent(
        x_id=x_id,
        event_type=fields.pop("event_type", DmEvent.MESSAGE_CREATE),
        created_at=at,
        text=fields.pop("text", f"message {x_id}"),
        sender=sender,
        sender_x_id=sender.x_id if sender else fields.pop("sender_x_id", ""),
        **fields,
    )


def test_the_timeline_separates_days_groups_one_sender_and_breaks_on_a_system_line():
    day1 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    day2 = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    ben = XUser(x_id="5", username="ben", name="Ben")
    events = [
        event_at("1", day1, THEO),
        event_at("2", day1 + timedelta(minutes=2), THEO),
        event_at("3", day1 + timedelta(minutes=30), THEO),  # a long pause: a new group
        event_at("4", day1 + timedelta(minutes=31), MAYA),
        event_at(
            "5",
            day1 + timedelta(minutes=32),
            MAYA,
            event_type=DmEvent.PARTICIPANTS_JOIN,
            participant_ids=[ben.x_id],
        ),
        event_at("6", day1 + timedelta(minutes=33), MAYA),
        event_at("7", day2, MAYA),
        event_at("8", day2 + timedelta(minutes=1), None, sender_x_id="811298434"),
    ]
    people = {p.x_id: p for p in (MAYA, THEO, ben)}
    blocks = rendering.timeline(events, people, MAYA.x_id)
    shape = [(b.kind, b.label, [e.x_id for e in b.events], b.mine) for b in blocks]
    assert shape == [
        ("day", "Tuesday, 10 March 2026", [], False),
        ("messages", "Message from Theo Park", ["1", "2"], False),
        ("messages", "Message from Theo Park", ["3"], False),
        ("messages", "Your message", ["4"], True),
        ("system", "@maya_reads added @ben", ["5"], False),
        ("messages", "Your message", ["6"], True),
        ("day", "Wednesday, 11 March 2026", [], False),
        ("messages", "Your message", ["7"], True),
        ("messages", "Message from User 811298434", ["8"], False),
    ]
    assert blocks[-1].sender is None and blocks[-1].sender_x_id == "811298434"


def test_a_run_shows_its_time_once_and_again_only_where_minutes_pass():
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    events = [
        event_at("1", start, THEO),
        event_at("2", start + timedelta(seconds=40), THEO),
        event_at("3", start + timedelta(minutes=1), THEO),  # a burst: one time, under "3"
        event_at("4", start + timedelta(minutes=6), THEO),  # minutes later, still the same run
        event_at("5", start + timedelta(minutes=7), MAYA),
    ]
    blocks = rendering.timeline(events, {}, MAYA.x_id)
    runs = [(b.kind, [e.x_id for e in b.events], sorted(b.timed)) for b in blocks]
    assert runs == [
        ("day", [], []),
        ("messages", ["1", "2", "3", "4"], ["3", "4"]),
        ("messages", ["5"], ["5"]),
    ]


def test_a_sender_is_named_in_a_group_but_never_in_a_one_to_one_nor_for_me():
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    events = [event_at("1", start, THEO), event_at("2", start + timedelta(minutes=1), MAYA)]
    one_to_one = rendering.timeline(events, {}, MAYA.x_id)
    group = rendering.timeline(events, {}, MAYA.x_id, group=True)
    assert [b.named for b in one_to_one if b.kind == "messages"] == [False, False]
    assert [b.named for b in group if b.kind == "messages"] == [True, False]


def test_system_lines_say_who_joined_who_added_whom_and_who_left():
    ben = XUser(x_id="5", username="ben")
    cy = XUser(x_id="6", username="cy")
    people = {p.x_id: p for p in (MAYA, ben, cy)}

    def line(event_type, participants, sender_x_id=""):
        event = DmEvent(
            event_type=event_type, participant_ids=participants, sender_x_id=sender_x_id
        )
        return rendering.system_line(event, people)

    join, leave = DmEvent.PARTICIPANTS_JOIN, DmEvent.PARTICIPANTS_LEAVE
    assert line(join, ["5"], MAYA.x_id) == "@maya_reads added @ben"
    assert line(join, ["5", "6"], MAYA.x_id) == "@maya_reads added @ben and @cy"
    assert line(join, ["5"]) == "@ben joined"
    assert line(leave, ["6"]) == "@cy left"
    assert line(leave, ["811298434"]) == "user 811298434 left"
    assert line(leave, []) == "someone left"
    assert line("ReactionCreate", []) == "An event DM Reader cannot show yet (ReactionCreate)"


def test_an_archives_rename_is_a_line_and_an_empty_one_removes_the_name():
    people = {"5": XUser(x_id="5", username="ana")}
    rename = DmEvent(event_type="ConversationNameUpdate", sender_x_id="5", text="Lisbon trip")
    assert rendering.system_line(rename, people) == "@ana named the group “Lisbon trip”"
    rename.text = " "
    assert rendering.system_line(rename, people) == "@ana removed the group's name"
