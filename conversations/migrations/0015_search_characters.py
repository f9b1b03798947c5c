"""The characters of each message outside ASCII, on the event and indexed on both databases
(issue 13; DmEvent.characters, search._substring_newest).

Emoji, symbols and Chinese, Japanese and Korean text are looked for as substrings of the folded
text (LIKE '%…%'), which no word index serves. 0013 gave PostgreSQL a GIN index of each text's
characters outside ASCII, an expression SQLite cannot write (it has no regexp_replace), so on
SQLite such a search walked the timeline: "🔥 from:@friend" at a million events read that
person's 72,141 messages for the 20 newest of the 1,010 holding 🔥 (37 ms). Now the store keeps
the characters on the row, and each database indexes that column its own way:

- SQLite: an FTS5 table over it whose tokenizer makes each character a token (every category a
  token character but Unicode's spaces, which search.characters_of leaves out), kept current by
  triggers as 0002's is.
- PostgreSQL: the GIN index of 0013, now over the column split at its spaces (the same
  characters, each once), under the same name.

The column is added with ALTER TABLE … ADD COLUMN and a database default of "", as 0012 and 0014
add theirs: Django's AddField would copy the table on SQLite and drop 0002's triggers with it.
The rows already cached are filled in Python (SQLite has no way to split a text into its
characters): only those whose folded text has a character outside ASCII are written.
"""

import unicodedata

from django.db import migrations, models

SQLITE_UP = [
    # remove_diacritics 0: the characters are matched as they are, one token each.
    """CREATE VIRTUAL TABLE conversations_dmevent_characters USING fts5(
        characters, content='conversations_dmevent', content_rowid='id',
        tokenize="unicode61 remove_diacritics 0 categories 'L* M* N* P* S* C*'")""",
    """CREATE TRIGGER conversations_dmevent_characters_insert AFTER INSERT ON conversations_dmevent
    BEGIN
        INSERT INTO conversations_dmevent_characters(rowid, characters)
        VALUES (new.id, new.characters);
    END""",
    """CREATE TRIGGER conversations_dmevent_characters_delete AFTER DELETE ON conversations_dmevent
    BEGIN
        INSERT INTO conversations_dmevent_characters(conversations_dmevent_characters, rowid, characters)
        VALUES ('delete', old.id, old.characters);
    END""",
    """CREATE TRIGGER conversations_dmevent_characters_update
    AFTER UPDATE OF characters ON conversations_dmevent BEGIN
        INSERT INTO conversations_dmevent_characters(conversations_dmevent_characters, rowid, characters)
        VALUES ('delete', old.id, old.characters);
        INSERT INTO conversations_dmevent_characters(rowid, characters)
        VALUES (new.id, new.characters);
    END""",
    # Index the rows filled before the table existed.
    "INSERT INTO conversations_dmevent_characters(conversations_dmevent_characters) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER conversations_dmevent_characters_update",
    "DROP TRIGGER conversations_dmevent_characters_delete",
    "DROP TRIGGER conversations_dmevent_characters_insert",
    "DROP TABLE conversations_dmevent_characters",
]
# 0013's expression, for going back.
OLD_CHARACTERS = "string_to_array(regexp_replace(search_text, '[\\x01-\\x7f]+', '', 'g'), NULL)"
POSTGRES_UP = [
    "DROP INDEX conversations_dmevent_characters",
    # search.UNINDEXED_CHARACTERS: the index is used only by a query written exactly so.
    "CREATE INDEX conversations_dmevent_characters ON conversations_dmevent"
    " USING GIN ((string_to_array(characters, ' ')))",
    # The planner's estimate of a character's rows (search._character_matches) comes from the
    # statistics ANALYZE gathers for the indexed expression.
    "ANALYZE conversations_dmevent",
]
POSTGRES_DOWN = [
    "DROP INDEX conversations_dmevent_characters",
    f"CREATE INDEX conversations_dmevent_characters ON conversations_dmevent"
    f" USING GIN (({OLD_CHARACTERS}))",
]


MONGOLIAN_VOWEL_SEPARATOR = "\u180e"


def characters_of(folded):
    """A frozen copy of search.characters_of as it was when this migration was written."""
    found = {
        c
        for c in folded
        if ord(c) > 0x7F and unicodedata.category(c)[0] != "Z" and c != MONGOLIAN_VOWEL_SEPARATOR
    }
    return " ".join(sorted(found))


def add_column(apps, schema_editor):
    schema_editor.execute(
        "ALTER TABLE conversations_dmevent ADD COLUMN characters text NOT NULL DEFAULT ''"
    )
    with schema_editor.connection.cursor() as cursor:
        last = 0
        while True:
            # By id, a batch at a time: neither database holds the whole table's texts at once.
            cursor.execute(
                "SELECT id, search_text FROM conversations_dmevent WHERE id > %s ORDER BY id"
                " LIMIT 5000",
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            filled = [(characters_of(t), pk) for pk, t in rows if not t.isascii()]
            cursor.executemany(
                "UPDATE conversations_dmevent SET characters = %s WHERE id = %s", filled
            )


def drop_column(apps, schema_editor):
    schema_editor.execute("ALTER TABLE conversations_dmevent DROP COLUMN characters")


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("conversations", "0014_media_kinds")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, drop_column)],
            state_operations=[
                migrations.AddField(
                    model_name="dmevent",
                    name="characters",
                    field=models.TextField(blank=True, editable=False),
                ),
            ],
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
