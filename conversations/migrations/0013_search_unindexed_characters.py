"""Text the word index cannot serve, found through an index on PostgreSQL (issue 13).

Chinese, Japanese and Korean runs, emoji and symbols are looked for as substrings of the folded
text (search._filtered: `search_text LIKE '%…%'`), which neither a B-tree nor the tsvector
serves: at a million events PostgreSQL walked 40,000 of the owner's rows for a page of 東京 or
🔥 (70-85 ms), and a rarer one would be a scan of them all (170 ms). This GIN index holds, for
each event, the characters of its folded text outside ASCII; search asks it for the rows holding
every such character of the text (search.UNINDEXED_CHARACTERS, the same expression) and LIKE
decides on those. Measured against pg_trgm's trigram index on the same cache: trigrams served
'%会いましょう%' (9 ms), but not '%東京%' (two characters, no trigram) nor '%🔥%' (pg_trgm keeps
letters and digits only): both fell back to a scan of the table (170 ms).

SQLite walks its time index with LIKE (a few milliseconds a page there): nothing to do.
"""

from django.db import migrations

# search.UNINDEXED_CHARACTERS: both immutable built-ins, so an index expression needs no function.
CHARACTERS = "string_to_array(regexp_replace(search_text, '[\\x01-\\x7f]+', '', 'g'), NULL)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX conversations_dmevent_characters ON conversations_dmevent"
            f" USING GIN (({CHARACTERS}))"
        )
        # The planner's estimate of a character's rows (search._postgres_rows) comes from the
        # statistics ANALYZE gathers for the indexed expression.
        schema_editor.execute("ANALYZE conversations_dmevent")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX conversations_dmevent_characters")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0012_message_body")]

    operations = [migrations.RunPython(create, drop)]
