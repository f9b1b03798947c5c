"""Migrations that fill what they add from the rows already cached."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from conversations import search
from conversations.models import DmEvent
from conversations.sync import Progress, store_page

BEFORE_MEDIA_KINDS = [("conversations", "0013_search_unindexed_characters")]
MEDIA_KINDS = [("conversations", "0014_media_kinds")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_upgrading_finds_the_media_of_messages_cached_before_by_their_kind():
    owner = get_user_model().objects.create_user("x100")

    def sent(x_id, text, keys):
        return {"id": x_id, "event_type": "MessageCreate", "text": text, "sender_id": "200",
                "dm_conversation_id": "100-200", "created_at": f"2026-11-0{x_id}T12:00:00.000Z",
                "attachments": {"media_keys": keys}}  # fmt: skip

    page = {
        "data": [
            sent("1", "just words", []),
            sent("2", "a photo", ["3_2"]),
            sent("3", "a video", ["7_3"]),
            sent("4", "an album", ["3_4", "16_4"]),  # an archive's message: two media
            sent("5", "something new", ["99_5"]),  # a type X may add one day
        ],
        "includes": {
            "media": [
                {"media_key": "3_2", "type": "photo"},
                {"media_key": "7_3", "type": "video"},
                {"media_key": "3_4", "type": "photo"},
                {"media_key": "16_4", "type": "animated_gif"},
                {"media_key": "99_5", "type": "hologram"},
            ]
        },
    }
    store_page(owner.pk, page, progress=Progress())
    stored = dict(DmEvent.objects.values_list("x_id", "media_kinds"))
    assert stored == {"1": "", "2": "p", "3": "v", "4": "gp", "5": "o"}
    _upgrade_across(BEFORE_MEDIA_KINDS, MEDIA_KINDS, "media_kinds")
    # The migration writes what the store writes, and the search index survived the upgrade.
    assert dict(DmEvent.objects.values_list("x_id", "media_kinds")) == stored
    found = [r.event.x_id for r in search.run(owner, search.parse("a has:photo")).results]
    assert found == ["4", "2"]
    found = [r.event.x_id for r in search.run(owner, search.parse("has:media")).results]
    assert found == ["5", "4", "3", "2"]
    # The full-text index still learns of new messages (on SQLite, its triggers are on the table).
    store_page(owner.pk, {"data": [sent("6", "flamingo", [])]}, progress=Progress())
    assert [r.event.x_id for r in search.run(owner, search.parse("flamingo")).results] == ["6"]


def _upgrade_across(before, migration, column: str) -> None:
    """Back to before `migration` (its column gone with what it held), then it alone, then on to
    the latest: the cache as an upgrade finds it."""
    try:
        _migrate(before)
        assert column not in _columns()
        _migrate(migration)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _columns() -> set[str]:
    with connection.cursor() as cursor:
        described = connection.introspection.get_table_description(cursor, "conversations_dmevent")
    return {column.name for column in described}


BEFORE_CHARACTERS = [("conversations", "0014_media_kinds")]
CHARACTERS = [("conversations", "0015_search_characters")]


@pytest.mark.django_db(transaction=True)
def test_upgrading_finds_emoji_and_cjk_cached_before_through_the_index_of_characters(
    monkeypatch,
):
    owner = get_user_model().objects.create_user("x100")

    def sent(x_id, text):
        return {"id": x_id, "event_type": "MessageCreate", "text": text, "sender_id": "200",
                "dm_conversation_id": "100-200", "created_at": f"2026-11-0{x_id}T12:00:00.000Z"}  # fmt: skip

    # Folded first, as the index is: で loses its voicing mark (search.normalize).
    texts = ["just words", "that party was 🔥🔥", "東京で会いましょう", "Café 🔥 au lait", "ok"]
    page = {"data": [sent(str(n), text) for n, text in enumerate(texts, 1)]}
    store_page(owner.pk, page, progress=Progress())
    stored = dict(DmEvent.objects.values_list("x_id", "characters"))
    assert stored == {"1": "", "2": "🔥", "3": "い う し て ま ょ 京 会 東", "4": "🔥", "5": ""}
    _upgrade_across(BEFORE_CHARACTERS, CHARACTERS, "characters")
    # The migration writes what the store writes.
    assert dict(DmEvent.objects.values_list("x_id", "characters")) == stored
    # Searched as a text rarer than a stretch of the timeline holds: through the index alone.
    monkeypatch.setattr(search, "_FIRST_WINDOW", 1)
    monkeypatch.setattr(search, "_POSTGRES_FIRST_WINDOW", 1)

    def found(q):
        return [r.event.x_id for r in search.run(owner, search.parse(q)).results]

    assert found("🔥") == ["4", "2"]
    assert found("東京") == ["3"]
    # The index learns of new messages (on SQLite, by its triggers on the table).
    store_page(owner.pk, {"data": [sent("6", "🔥 again"), sent("7", "no")]}, progress=Progress())
    assert found("🔥") == ["6", "4", "2"]
