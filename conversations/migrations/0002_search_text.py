"""Full-text search over cached messages: SQLite FTS5 or a PostgreSQL tsvector with a GIN index.

Both index DmEvent.search_text (the text folded by conversations.search.normalize), so case and
accents never matter, and both match words by prefix. Triggers (SQLite) and a generated column
(PostgreSQL) keep the index current: an event is searchable the moment sync stores it.
"""

import unicodedata

from django.db import migrations, models

SQLITE_UP = [
    # unicode61 folds case and, with remove_diacritics 2, accents; the text is folded already,
    # so the two agree. External content: the words live in the events table only.
    """CREATE VIRTUAL TABLE conversations_dmevent_fts USING fts5(
        search_text, content='conversations_dmevent', content_rowid='id',
        tokenize="unicode61 remove_diacritics 2")""",
    """CREATE TRIGGER conversations_dmevent_fts_insert AFTER INSERT ON conversations_dmevent BEGIN
        INSERT INTO conversations_dmevent_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER conversations_dmevent_fts_delete AFTER DELETE ON conversations_dmevent BEGIN
        INSERT INTO conversations_dmevent_fts(conversations_dmevent_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER conversations_dmevent_fts_update AFTER UPDATE OF search_text ON conversations_dmevent BEGIN
        INSERT INTO conversations_dmevent_fts(conversations_dmevent_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO conversations_dmevent_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    # Index the rows that were there before the table existed.
    "INSERT INTO conversations_dmevent_fts(conversations_dmevent_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER conversations_dmevent_fts_update",
    "DROP TRIGGER conversations_dmevent_fts_delete",
    "DROP TRIGGER conversations_dmevent_fts_insert",
    "DROP TABLE conversations_dmevent_fts",
]
POSTGRES_UP = [
    # 'simple': no stemming or stop words, so every word of every language stays findable.
    """ALTER TABLE conversations_dmevent ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED""",
    # search.matching(): the owner's events whose search_vector matches the query.
    "CREATE INDEX conversations_dmevent_search ON conversations_dmevent USING GIN (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX conversations_dmevent_search",
    "ALTER TABLE conversations_dmevent DROP COLUMN search_vector",
]


# Frozen copies of search.normalize and sync._has_own_link as they were when this migration was
# written: a migration must run the same way whatever later becomes of the app's code.


def normalize(text):
    """Fold case, accents and compatibility forms (ﬁ, full-width letters) the same way for the
    indexed text and the query, and turn punctuation into spaces: FTS5 splits words there anyway,
    while PostgreSQL's parser would read "<b>" as a tag or a URL as one token, and drop or keep
    them whole. Symbols and emoji stay, to be found as written."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = unicodedata.normalize("NFC", stripped).casefold()
    return "".join(
        " " if unicodedata.category(c).startswith("P") or c in "<>=+|^`~$" else c for c in folded
    )


def _has_own_link(entities, post_ids):
    """A link the sender wrote, not the one X appends for an attachment or a shared post."""
    for url in entities.get("urls") or []:
        if not isinstance(url, dict) or url.get("media_key"):
            continue
        target = str(url.get("unwound_url") or url.get("expanded_url") or "")
        if not any(target.rstrip("/").endswith(f"/status/{post}") for post in post_ids):
            return True
    return False


def backfill(apps, schema_editor):
    """Events cached before this migration get their folded text (and link flag) now."""
    DmEvent = apps.get_model("conversations", "DmEvent")
    batch = []
    events = DmEvent.objects.prefetch_related("shared_posts").only("pk", "text", "entities")
    for event in events.iterator(chunk_size=2000):
        event.search_text = normalize(event.text)
        entities = event.entities if isinstance(event.entities, dict) else {}
        event.has_link = _has_own_link(entities, [p.x_id for p in event.shared_posts.all()])
        batch.append(event)
        if len(batch) == 2000:
            DmEvent.objects.bulk_update(batch, ["search_text", "has_link"])
            batch = []
    DmEvent.objects.bulk_update(batch, ["search_text", "has_link"])


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="dmevent",
            name="search_text",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="dmevent",
            name="has_link",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
