"""The kinds of media each event carries, on the event (issue 13; DmEvent.media_kinds), for
has:photo, has:video, has:gif and has:media.

The column is added with ALTER TABLE ... ADD COLUMN and a database default of "", as 0012 adds
its columns, not by Django's AddField: on SQLite that would copy the whole table into a new one
(a million events: a long wait on upgrade) and drop the FTS triggers of 0002 with the old table.
Then one UPDATE fills it for the events that have media links, the letters as
models.media_kinds_of writes them (each kind once, in letter order: g, o, p, v), and the
partial index of events with media is built on the rows so filled.

PostgreSQL also gets one partial index for each kind: on the index of all media it read every
medium's row from the table to check its kind (an Index Scan's filter is checked on the row), so
"tomo has:video" at a million events read 18,500 rows for 21 videos (46 ms). SQLite checks the
kind on the index itself and cannot use these: it matches a partial index's LIKE only against a
literal, and Django sends the pattern as a parameter.
"""

from django.db import migrations, models

THROUGH = "conversations_dmevent_media"
# models.MEDIA_KIND_LETTERS, in letter order; "o" is every other type.
KINDS = [("g", "= 'animated_gif'"), ("o", "NOT IN ('animated_gif', 'photo', 'video')"),
         ("p", "= 'photo'"), ("v", "= 'video'")]  # fmt: skip


def _carries(letter: str, condition: str) -> str:
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM {THROUGH} JOIN conversations_media"
        f" ON conversations_media.id = {THROUGH}.media_id"
        f" WHERE {THROUGH}.dmevent_id = conversations_dmevent.id"
        f" AND conversations_media.type {condition}) THEN '{letter}' ELSE '' END"
    )


FILL = (
    "UPDATE conversations_dmevent SET media_kinds = "
    + " || ".join(_carries(letter, condition) for letter, condition in KINDS)
    + f" WHERE id IN (SELECT dmevent_id FROM {THROUGH})"
)


def add_column(apps, schema_editor):
    schema_editor.execute(
        "ALTER TABLE conversations_dmevent ADD COLUMN media_kinds varchar(8) NOT NULL DEFAULT ''"
    )
    schema_editor.execute(FILL)


# search._has's condition for each kind, as Django writes it for PostgreSQL (the planner uses a
# partial index only for a query that states its condition).
KIND_INDEXES = {"photo": "p", "video": "v", "gif": "g"}


def create_kind_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for kind, letter in KIND_INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX dmevent_owner_{kind}_time ON conversations_dmevent"
                f" (owner_id, created_at DESC, sort_id DESC) WHERE media_kinds::text LIKE '%%{letter}%%'"
            )


def drop_kind_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for kind in KIND_INDEXES:
            schema_editor.execute(f"DROP INDEX dmevent_owner_{kind}_time")


def drop_column(apps, schema_editor):
    schema_editor.execute("ALTER TABLE conversations_dmevent DROP COLUMN media_kinds")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0013_search_unindexed_characters"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, drop_column)],
            state_operations=[
                migrations.AddField(
                    model_name="dmevent",
                    name="media_kinds",
                    field=models.CharField(blank=True, editable=False, max_length=8),
                ),
            ],
        ),
        # CREATE INDEX only: no table is remade on either database.
        migrations.AddIndex(
            model_name="dmevent",
            index=models.Index(
                condition=models.Q(("media_kinds", ""), _negated=True),
                fields=["owner", "-created_at", "-sort_id", "media_kinds"],
                name="dmevent_owner_media_time",
            ),
        ),
        migrations.RunPython(create_kind_indexes, drop_kind_indexes),
    ]
