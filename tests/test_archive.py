"""Reading X's data archive: every DM comes out once, as X wrote it, and bad archives are refused
with a message a person can act on, before anything is inflated or read."""

import json
import os
import struct
import tracemalloc
import zipfile
from datetime import UTC, datetime

import pytest

from conversations import archive
from conversations.archive import ArchiveError, check_account, open_archive
from tests.archive_factory import (
    OWNER_ID,
    Conversation,
    conversation_name_update,
    generate_history,
    message_create,
    participants_join,
    write_archive,
)

WHEN = datetime(2024, 3, 6, 9, 15, 0, 120000, tzinfo=UTC)
OTHER_ID = "2244994945"


def history(messages=600, conversations=14, seed=7, **options):
    generated = generate_history(
        messages=messages, conversations=conversations, seed=seed, media_every=8, **options
    )
    return list(generated.one_to_one), list(generated.groups)


@pytest.fixture(scope="module")
def inbox():
    return history()


def build(tmp_path, inbox, name="archive.zip", **options):
    one_to_one, groups = inbox
    return write_archive(tmp_path / name, one_to_one, groups, **options)


def read_all(path, **options):
    with open_archive(path, **options) as opened:
        return list(opened.events())


def key(event):
    """Messages by their id; membership events (which have no id in the archive) by what they are."""
    return event.id or (event.conversation_id, event.event_type, event.created_at)


def expected_events(inbox):
    expected = {}
    for conversation in [*inbox[0], *inbox[1]]:
        for wrapper in conversation.messages:
            ((kind, body),) = wrapper.items()
            created = datetime.fromisoformat(body["createdAt"])
            event_type = archive.EVENT_TYPES[kind]
            name = body.get("id") or (conversation.conversation_id, event_type, created)
            expected[name] = (conversation, wrapper)
    return expected


def one_file_archive(tmp_path, conversations, group=False, name="archive.zip"):
    one_to_one, groups = ([], conversations) if group else (conversations, [])
    return write_archive(tmp_path / name, one_to_one, groups).path


def folder_archive(tmp_path, inbox, name="unpacked"):
    return write_archive(tmp_path / name, *inbox, as_folder=True).path


# --- What comes out ----------------------------------------------------------------------------


def test_every_event_of_a_generated_archive_comes_out_once_with_its_fields(tmp_path, inbox):
    written = build(tmp_path, inbox, part_bytes=40_000)
    events = read_all(written.path)

    expected = expected_events(inbox)
    assert sorted(map(str, map(key, events))) == sorted(map(str, expected))
    assert len(events) == written.events == len(expected)
    for event in events:
        conversation, wrapper = expected[key(event)]
        ((kind, body),) = wrapper.items()
        assert event.raw == wrapper
        assert event.conversation_id == conversation.conversation_id
        assert event.group is conversation.group
        assert event.created_at == datetime.fromisoformat(body["createdAt"])
        assert event.created_at.tzinfo is not None and event.created_at.utcoffset().seconds == 0
        if kind == "messageCreate":
            assert event.event_type == "MessageCreate"
            assert (event.sender_id, event.text) == (body["senderId"], body["text"])
            assert event.recipient_id == body.get("recipientId", "")
            assert [(u.url, u.expanded, u.display) for u in event.urls] == [
                (u["url"], u["expanded"], u["display"]) for u in body["urls"]
            ]
            assert [(r.sender_id, r.reaction_key, r.event_id) for r in event.reactions] == [
                (r["senderId"], r["reactionKey"], r["eventId"]) for r in body["reactions"]
            ]
            files = {name for name in conversation.media if name.startswith(body["id"] + "-")}
            assert {media.name.rpartition("/")[2] for media in event.media} == files
            assert event.media_urls == tuple(body["mediaUrls"])
        elif kind == "conversationNameUpdate":
            assert (event.event_type, event.name) == ("ConversationNameUpdate", body["name"])
            assert event.sender_id == body["initiatingUserId"]
        elif kind == "joinConversation":
            assert event.event_type == "JoinConversation"
            assert event.participant_ids == tuple(body["participantsSnapshot"])
        elif kind == "participantsJoin":
            assert event.event_type == "ParticipantsJoin"
            assert event.participant_ids == tuple(body["userIds"])
        else:
            assert event.event_type == "ParticipantsLeave"
            assert event.participant_ids == tuple(body["userIds"])
    kinds = {event.event_type for event in events}
    assert kinds == {
        "MessageCreate",
        "JoinConversation",
        "ConversationNameUpdate",
        "ParticipantsJoin",
        "ParticipantsLeave",
    }
    assert sum(len(event.media) for event in events) == len(written.media_files)


def test_the_manifest_names_the_account_and_every_part(tmp_path, inbox):
    generated = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    written = build(tmp_path, inbox, part_bytes=40_000, generated_at=generated)
    with open_archive(written.path) as opened:
        manifest = opened.manifest
    assert (manifest.account_id, manifest.username, manifest.display_name) == (
        OWNER_ID,
        "maya_reads",
        "Maya",
    )
    assert manifest.generated_at == generated
    assert [f.name for f in manifest.files] == written.data_files
    assert any("-part" in name for name in written.data_files)
    assert any(f.group for f in manifest.files) and any(not f.group for f in manifest.files)
    assert sum(f.conversations for f in manifest.files) == written.conversations


def test_parts_listed_out_of_order_still_give_every_event_once(tmp_path, inbox):
    written = build(tmp_path, inbox, part_bytes=20_000, manifest_parts_reversed=True)
    assert "-part" in written.data_files[0]
    with open_archive(written.path) as opened:
        assert [f.name for f in opened.files] == written.data_files
        events = list(opened.events())
    assert len(events) == len({key(event) for event in events}) == len(expected_events(inbox))
    # Parts are in no time order: the reader keeps the file order and leaves ordering to the store.
    times = [event.created_at for event in events]
    assert times != sorted(times) and times != sorted(times, reverse=True)


def test_older_archives_with_singular_names_read_the_same(tmp_path, inbox):
    written = build(tmp_path, inbox, singular=True, part_bytes=40_000)
    assert any("direct-message-part1.js" in name for name in written.data_files)
    assert all("/direct_message_" in name for name in written.media_files)
    events = read_all(written.path)
    assert {key(event) for event in events} == set(expected_events(inbox))
    assert sum(len(event.media) for event in events) == len(written.media_files)


def test_dm_files_the_manifest_does_not_list_are_found_by_their_names(tmp_path, inbox):
    written = build(tmp_path, inbox, singular=True, manifest_lists_dms=False, part_bytes=40_000)
    with open_archive(written.path) as opened:
        names = [f.name for f in opened.files]
        events = list(opened.events())
    # One-to-one parts first, in part order, then the group parts.
    assert names == written.data_files
    assert names[:2] == ["data/direct-message.js", "data/direct-message-part1.js"]
    assert {key(event) for event in events} == set(expected_events(inbox))


def test_an_extracted_folder_and_its_data_folder_read_like_the_zip(tmp_path, inbox):
    from_zip = read_all(build(tmp_path, inbox).path)
    folder = folder_archive(tmp_path, inbox)
    assert read_all(folder) == from_zip
    assert [(e.id, e.text) for e in read_all(folder / "data")] == [(e.id, e.text) for e in from_zip]


def test_an_archive_zipped_again_inside_its_folder_reads(tmp_path, inbox):
    folder = folder_archive(tmp_path, inbox, name="twitter-2026-11-30-abc")
    target = tmp_path / "again.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(tmp_path).as_posix())
    assert len(read_all(target)) == len(expected_events(inbox))


def test_media_files_open_as_the_bytes_in_the_archive(tmp_path, inbox):
    written = build(tmp_path, inbox)
    contents = {
        name: content
        for conversation in [*inbox[0], *inbox[1]]
        for name, content in conversation.media.items()
    }
    with open_archive(written.path) as opened:
        found = [media for event in opened.events() for media in event.media]
        for media in found:
            with opened.open_media(media.name) as stream:
                assert stream.read() == contents[media.name.rpartition("/")[2]]
            assert media.size == len(contents[media.name.rpartition("/")[2]])
        # Videos: the URL ends in "?tag=1", the file name doesn't.
        assert any(m.url.endswith(".mp4?tag=1") and m.name.endswith(".mp4") for m in found)
        assert any(m.name.startswith("data/direct_messages_group_media/") for m in found)
        with pytest.raises(ArchiveError, match="not a Direct Message media file"):
            opened.open_media("data/manifest.js")


def test_a_media_file_whose_name_does_not_match_its_url_is_found_by_message_id(tmp_path):
    message = message_create(
        "1712000000000000002",
        OWNER_ID,
        WHEN,
        "look https://t.co/abc",
        recipient_id=OTHER_ID,
        media_urls=["https://ton.twitter.com/dm/1712000000000000002/99/renamed.jpg"],
    )
    conversation = Conversation(
        f"{OTHER_ID}-{OWNER_ID}", False, [message], {"1712000000000000002-other.png": b"png"}
    )
    (event,) = read_all(one_file_archive(tmp_path, [conversation]))
    assert [(m.name, m.url) for m in event.media] == [
        ("data/direct_messages_media/1712000000000000002-other.png", "")
    ]


def test_progress_counts_bytes_read_up_to_the_total(tmp_path, inbox):
    written = build(tmp_path, inbox, part_bytes=40_000)
    with open_archive(written.path) as opened:
        progress = opened.progress
        total = progress.bytes_total
        assert total == sum(f.size for f in opened.files) and progress.bytes_read == 0
        seen = []
        for event in opened.events():
            seen.append(progress.bytes_read)
            assert 0 < progress.bytes_read <= total
        assert seen == sorted(seen)
        assert progress.bytes_read == total and progress.fraction == 1.0
        assert progress.files_done == progress.files_total == len(written.data_files)
        assert progress.conversations == written.conversations
        assert progress.events == written.events


def test_hostile_text_and_names_are_kept_exactly_as_data(tmp_path):
    hostile = "<script>alert('x')</script> &amp; \u202e\u0000 \"} ] , { \\ 🎉 東京"
    conversation = Conversation(
        "1612345678901234567",
        True,
        [
            message_create("1712000000000000009", OTHER_ID, WHEN, hostile),
            conversation_name_update(OTHER_ID, "<img src=x onerror=alert(1)>", WHEN),
        ],
    )
    message, rename = read_all(one_file_archive(tmp_path, [conversation], group=True))
    assert message.text == hostile
    assert message.recipient_id == ""
    assert rename.name == "<img src=x onerror=alert(1)>"


def test_a_byte_order_mark_a_trailing_semicolon_and_unknown_kinds_are_tolerated(tmp_path):
    folder = tmp_path / "a"
    conversation = Conversation(
        f"{OTHER_ID}-{OWNER_ID}",
        False,
        [
            {"welcomeMessageCreate": {"id": "5", "createdAt": "2024-03-06T09:15:00.120Z"}},
            message_create("1712000000000000002", OWNER_ID, WHEN, "hi", recipient_id=OTHER_ID),
        ],
    )
    write_archive(folder, [conversation], as_folder=True)
    data_file = folder / "data" / "direct-messages.js"
    data_file.write_bytes(b"\xef\xbb\xbf" + data_file.read_bytes() + b";\n")
    with open_archive(folder) as opened:
        (event,) = opened.events()
        assert event.text == "hi"
        assert opened.progress.skipped == {"welcomeMessageCreate": 1}


def test_a_group_recipient_of_zero_means_none(tmp_path):
    message = message_create("1712000000000000002", OTHER_ID, WHEN, "hi", recipient_id="0")
    (event,) = read_all(
        one_file_archive(tmp_path, [Conversation("1612345678901234567", True, [message])], True)
    )
    assert event.recipient_id == ""


def test_a_conversation_id_written_after_its_messages_still_applies_to_them(tmp_path):
    folder = tmp_path / "a"
    write_archive(folder, [], as_folder=True)
    item = {
        "dmConversation": {
            "messages": [message_create("1712000000000000002", OWNER_ID, WHEN, "hi")],
            "conversationId": f"{OTHER_ID}-{OWNER_ID}",
        }
    }
    (folder / "data" / "direct-messages.js").write_text(
        "window.YTD.direct_messages.part0 = " + json.dumps([item])
    )
    (event,) = read_all(folder)
    assert (event.id, event.conversation_id) == ("1712000000000000002", f"{OTHER_ID}-{OWNER_ID}")


def test_memory_stays_flat_as_the_archive_grows(tmp_path):
    """Peak memory while reading 8 times the messages (and a conversation 8 times as long) stays
    about the same: nothing is held but the event being read. (What opening holds, the ZIP's
    directory and the media names, grows with the number of files, not of messages.)"""

    def peak(messages):
        generated = generate_history(messages=messages, conversations=8, seed=3, media_every=10**9)
        path = write_archive(tmp_path / f"{messages}.zip", generated.one_to_one, generated.groups)
        tracemalloc.start()
        try:
            with open_archive(path.path) as opened:
                opened_at = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                for _event in opened.events():
                    pass
                return tracemalloc.get_traced_memory()[1] - opened_at
        finally:
            tracemalloc.stop()

    small, large = peak(600), peak(4_800)
    assert large < small * 1.5, (small, large)


# --- Bad input -----------------------------------------------------------------------------------


def zip_of(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, content in files.items():
            out.writestr(name, content)
    return path


def manifest(account_id=OWNER_ID, files=("data/direct-messages.js",)):
    listed = [
        {"fileName": name, "globalName": "YTD.direct_messages.part0", "count": "1"}
        for name in files
    ]
    config = {
        "userInfo": {"accountId": account_id, "userName": "maya_reads", "displayName": "Maya"},
        "dataTypes": {"directMessages": {"files": listed}},
    }
    return "window.__THAR_CONFIG = " + json.dumps(config)


EMPTY = "window.YTD.direct_messages.part0 = [ ]"


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "archive.zip"
    path.write_text("<html>Sign in to X</html>")
    with pytest.raises(ArchiveError, match=r"archive\.zip is not a ZIP file"):
        open_archive(path)


def test_a_zip_cut_short_while_downloading_is_refused(tmp_path, inbox):
    path = build(tmp_path, inbox).path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="not a ZIP file, or it was cut short"):
        open_archive(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            'window.YTD.direct_messages.part0 = [ { "dmConversation" : { "conv',
            "damaged or cut short",
        ),
        ("window.YTD.direct_messages.part0 = [ {]", "damaged or cut short"),
        ("window.YTD.direct_messages.part0 = {}", "doesn't hold a list of conversations"),
        ("<html>not found</html>", "not one of X's archive data files"),
        (
            'window.YTD.direct_messages.part0 = [ {"dmConversation": {"messages": []}} ]',
            "has no conversationId",
        ),
        (
            'window.YTD.direct_messages.part0 = [ {"dmConversation": {"conversationId": "a/b"}} ]',
            "is not a conversation id",
        ),
    ],
)
def test_a_truncated_or_malformed_data_file_is_refused_by_name(tmp_path, content, message):
    path = zip_of(
        tmp_path / "a.zip", {"data/manifest.js": manifest(), "data/direct-messages.js": content}
    )
    with open_archive(path) as opened, pytest.raises(ArchiveError, match=message) as error:
        list(opened.events())
    assert "data/direct-messages.js" in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"id": "12x", "senderId": OWNER_ID, "createdAt": "2024-03-06T09:15:00.120Z"},
            "no valid id",
        ),
        ({"id": "12", "senderId": OWNER_ID, "createdAt": "yesterday"}, "has no date"),
        (
            {"id": "12", "senderId": "@maya", "createdAt": "2024-03-06T09:15:00.120Z"},
            "senderId is not",
        ),
        (
            {"id": "12", "senderId": OWNER_ID, "createdAt": "2024-03-06T09:15:00Z", "urls": "x"},
            "urls is not a list",
        ),
    ],
)
def test_a_malformed_message_is_refused_naming_its_conversation(tmp_path, body, message):
    item = {
        "dmConversation": {
            "conversationId": f"{OTHER_ID}-{OWNER_ID}",
            "messages": [{"messageCreate": body}],
        }
    }
    path = zip_of(
        tmp_path / "a.zip",
        {
            "data/manifest.js": manifest(),
            "data/direct-messages.js": "window.YTD.direct_messages.part0 = " + json.dumps([item]),
        },
    )
    with open_archive(path) as opened, pytest.raises(ArchiveError, match=message) as error:
        list(opened.events())
    assert f"conversation {OTHER_ID}-{OWNER_ID}" in str(error.value)


def test_a_zip_without_a_manifest_is_not_an_archive_of_x(tmp_path):
    path = zip_of(tmp_path / "a.zip", {"data/direct-messages.js": EMPTY, "photo.jpg": b"x"})
    with pytest.raises(
        ArchiveError, match=r"not X's archive of your data: it has no data/manifest\.js"
    ):
        open_archive(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('window.__THAR_CONFIG = {"userInfo": {}}', "doesn't say whose archive it is"),
        ('window.__THAR_CONFIG = {"userInfo": {"accountId": "1"', "damaged or cut short"),
        ("{}", "doesn't begin as X's does"),
    ],
)
def test_a_manifest_that_names_no_account_or_is_damaged_is_refused(tmp_path, content, message):
    path = zip_of(
        tmp_path / "a.zip", {"data/manifest.js": content, "data/direct-messages.js": EMPTY}
    )
    with pytest.raises(ArchiveError, match=message):
        open_archive(path)


def test_an_archive_without_dm_files_is_refused(tmp_path):
    path = zip_of(
        tmp_path / "a.zip", {"data/manifest.js": manifest(files=()), "data/tweets.js": EMPTY}
    )
    with pytest.raises(ArchiveError, match="no Direct Message files"):
        open_archive(path)


def test_a_part_the_manifest_lists_but_the_zip_lacks_is_refused(tmp_path, inbox):
    written = build(tmp_path, inbox, part_bytes=20_000)
    missing = next(name for name in written.data_files if name.endswith("-part2.js"))
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(written.path) as source, zipfile.ZipFile(cut, "w") as out:
        for info in source.infolist():
            if info.filename != missing:
                out.writestr(info, source.read(info))
    with pytest.raises(ArchiveError, match=f"missing {missing}, which its manifest lists"):
        open_archive(cut)


@pytest.mark.parametrize(
    "name",
    [
        "../evil.js",
        "data/../../evil.js",
        "/etc/cron.d/evil",
        "data\\..\\evil.js",
        "C:/evil.js",
        "data/a\x00.js",
    ],
)
def test_names_that_climb_out_of_a_folder_anywhere_in_the_zip_are_refused(tmp_path, name):
    # zipfile cleans some names as it writes them: write a stand-in, then put the name in the bytes.
    stand_in = "x" * len(name)
    path = zip_of(
        tmp_path / "a.zip",
        {"data/manifest.js": manifest(), "data/direct-messages.js": EMPTY, stand_in: "x"},
    )
    path.write_bytes(path.read_bytes().replace(stand_in.encode(), name.encode()))
    with pytest.raises(ArchiveError, match="could lead out of its folder"):
        open_archive(path)


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(tmp_path):
    root = tmp_path / "unpacked"
    (root / "data").mkdir(parents=True)
    (tmp_path / "secret.js").write_text(EMPTY)
    (root / "data" / "manifest.js").write_text(manifest(files=("data/../../secret.js",)))
    with pytest.raises(ArchiveError, match="names a file outside the archive"):
        open_archive(root)


def test_a_link_leading_out_of_an_extracted_folder_is_refused(tmp_path, inbox):
    root = folder_archive(tmp_path, inbox)
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "data" / "direct_messages_media" / "1-secret.jpg")
    with pytest.raises(ArchiveError, match="link that leads out of it"):
        open_archive(root)


def test_a_zip_holding_a_name_twice_is_refused(tmp_path):
    path = zip_of(
        tmp_path / "a.zip", {"data/manifest.js": manifest(), "data/direct-messages.js": EMPTY}
    )
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "a") as out:
        out.writestr("data/direct-messages.js", EMPTY)
    with pytest.raises(ArchiveError, match=r"holds data/direct-messages\.js twice"):
        open_archive(path)


@pytest.fixture
def inflated(monkeypatch):
    """Counts the bytes zipfile inflates, to show a bomb is refused before any."""
    counted = {"bytes": 0}
    read = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        data = read(self, n)
        counted["bytes"] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    return counted


def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path, inflated):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("data/manifest.js", manifest())
        with out.open("data/direct-messages.js", "w") as member:
            member.write(b"window.YTD.direct_messages.part0 = [")
            for _ in range(64):
                member.write(b" " * 1024**2)
            member.write(b"]")
    assert path.stat().st_size < 1024**2
    with pytest.raises(ArchiveError, match="inflate to far more than X's archives do") as error:
        open_archive(path)
    assert "data/direct-messages.js" in str(error.value)
    assert inflated["bytes"] == 0


def test_a_zip_of_far_more_files_than_x_writes_is_refused_before_they_are_listed(
    tmp_path, inbox, monkeypatch
):
    path = build(tmp_path, inbox).path
    listed = []
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", lambda self: listed.append(self))
    with pytest.raises(ArchiveError, match="far more files than X's archives do"):
        open_archive(path, limits=archive.ArchiveLimits(max_members=10))
    assert listed == []


def set_declared_size(path, name, size):
    """Rewrite the uncompressed size the ZIP's central directory declares for one member."""
    raw = bytearray(path.read_bytes())
    start = 0
    while (start := raw.find(b"PK\x01\x02", start)) >= 0:
        name_length = struct.unpack_from("<H", raw, start + 28)[0]
        if raw[start + 46 : start + 46 + name_length] == name.encode():
            struct.pack_into("<I", raw, start + 24, size)
        start += 4
    path.write_bytes(bytes(raw))


def test_a_member_declaring_an_absurd_size_is_refused_before_inflating(tmp_path, inbox, inflated):
    path = build(tmp_path, inbox).path
    set_declared_size(path, "data/direct-messages.js", 0xFFFF_FFF0)
    with pytest.raises(ArchiveError, match="inflate to far more"):
        open_archive(path)
    assert inflated["bytes"] == 0
    small = archive.ArchiveLimits(max_total_bytes=10_000)
    with pytest.raises(ArchiveError, match="inflate to far more"):
        open_archive(build(tmp_path, inbox, name="b.zip").path, limits=small)


def test_a_member_inflating_past_its_declared_size_is_cut_off_and_refused(tmp_path, inbox):
    path = build(tmp_path, inbox).path
    with zipfile.ZipFile(path) as opened:
        size = opened.getinfo("data/direct-messages.js").file_size
    set_declared_size(path, "data/direct-messages.js", size // 2)
    with (
        open_archive(path) as opened,
        pytest.raises(ArchiveError, match=r"data/direct-messages\.js"),
    ):
        list(opened.events())


# --- Whose archive -------------------------------------------------------------------------------


def test_an_archive_of_another_account_is_refused_naming_both(tmp_path, inbox):
    path = build(tmp_path, inbox).path
    with open_archive(path) as opened:
        with pytest.raises(ArchiveError) as error:
            check_account(opened.manifest, OTHER_ID, "jonas_k")
        check_account(opened.manifest, OWNER_ID)
        check_account(opened.manifest, OWNER_ID, "maya_reads")
    assert str(error.value).startswith(
        f"This archive belongs to @maya_reads (X id {OWNER_ID}), not to @jonas_k (X id {OTHER_ID})"
    )


def test_opening_for_another_account_stops_before_any_dm_is_read(tmp_path, inbox, monkeypatch):
    path = build(tmp_path, inbox).path
    opened_members = []
    open_member = zipfile.ZipFile.open

    def watching(self, name, *args, **kwargs):
        opened_members.append(getattr(name, "filename", name))
        return open_member(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", watching)
    with pytest.raises(ArchiveError, match="not to X id 2244994945"):
        open_archive(path, expected_x_user_id=OTHER_ID)
    assert opened_members == ["data/manifest.js"]


def test_check_account_wants_an_x_id():
    with pytest.raises(ValueError, match="not an X user id"):
        check_account(None, "@maya")


def test_a_participants_join_names_who_added_whom(tmp_path):
    join = participants_join(OWNER_ID, ["333000222", "444000333"], WHEN)
    (event,) = read_all(
        one_file_archive(tmp_path, [Conversation("1612345678901234567", True, [join])], True)
    )
    assert (event.event_type, event.id, event.sender_id, event.participant_ids) == (
        "ParticipantsJoin",
        "",
        OWNER_ID,
        ("333000222", "444000333"),
    )


def test_events_without_an_id_have_a_natural_key_that_is_the_same_on_every_read(tmp_path, inbox):
    path = build(tmp_path, inbox).path
    first, second = read_all(path), read_all(path)
    keys = [event.natural_key() for event in first]
    assert keys == [event.natural_key() for event in second]
    assert len(set(keys)) == len(keys)
    assert all(key == (event.id,) for key, event in zip(keys, first, strict=True) if event.id)


def test_no_archive_at_the_path_and_a_broken_link_are_refused(tmp_path, inbox):
    with pytest.raises(ArchiveError, match="There is no archive at"):
        open_archive(tmp_path / "nothing.zip")
    root = folder_archive(tmp_path, inbox)
    os.symlink(root / "data" / "gone.jpg", root / "data" / "direct_messages_media" / "1-a.jpg")
    with pytest.raises(ArchiveError, match=r"1-a\.jpg can't be read"):
        open_archive(root)
