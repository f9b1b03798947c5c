"""Each message's body and inbox preview as the reader shows them, rendered by the store (issue 13;
DmEvent.body_html).

Both columns are added with ALTER TABLE ... ADD COLUMN and a database default of "", not by
Django's AddField: on SQLite that would copy the whole table into a new one (a million events: a
long wait on upgrade) and drop the FTS triggers of 0002 with the old table. Bodies stay empty
here; a page renders an empty one as it reads it, and `manage.py renderbodies` keeps them.
"""

from django.db import migrations, models

COLUMNS = {"body_html": "text", "preview_html": "text", "body_version": "varchar(16)"}


def add_columns(apps, schema_editor):
    for name, kind in COLUMNS.items():
        schema_editor.execute(
            f"ALTER TABLE conversations_dmevent ADD COLUMN {name} {kind} NOT NULL DEFAULT ''"
        )


def drop_columns(apps, schema_editor):
    for name in COLUMNS:
        schema_editor.execute(f"ALTER TABLE conversations_dmevent DROP COLUMN {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0011_search_conversation_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_columns, drop_columns)],
            state_operations=[
                migrations.AddField(
                    model_name="dmevent",
                    name="body_html",
                    field=models.TextField(blank=True, editable=False),
                ),
                migrations.AddField(
                    model_name="dmevent",
                    name="preview_html",
                    field=models.TextField(blank=True, editable=False),
                ),
                migrations.AddField(
                    model_name="dmevent",
                    name="body_version",
                    field=models.CharField(blank=True, editable=False, max_length=16),
                ),
            ],
        ),
    ]
