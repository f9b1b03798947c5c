"""A conversation's time index that answers the owner too (issue 13; bench/search_bench.py).

Every read of a conversation is also scoped to its owner (queries.visible_to). With the owner
only in the table, search's walk through one conversation (in:@ana "on my way") read every row
it stepped over for its owner_id: the stretch's edge at OFFSET 16,639 took 115 ms at a million
events; answered from the index, 2 ms. The lead renumbers this migration if another comes first.
"""

from django.db import migrations, models


def analyze(apps, schema_editor):
    """SQLite plans by the statistics ANALYZE leaves (store.refresh_statistics): the new index
    needs its line, as in 0006."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("PRAGMA analysis_limit=1000")
        schema_editor.execute("ANALYZE conversations_dmevent")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0010_importjob_kind")]

    operations = [
        migrations.RemoveIndex(model_name="dmevent", name="dmevent_conversation_time"),
        migrations.AddIndex(
            model_name="dmevent",
            index=models.Index(
                fields=["conversation", "created_at", "sort_id", "owner"],
                name="dmevent_conversation_time",
            ),
        ),
        migrations.RunPython(analyze, migrations.RunPython.noop),
    ]
