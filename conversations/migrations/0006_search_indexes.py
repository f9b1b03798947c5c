"""Indexes for search at a million events (issue 13; bench/search_bench.py)."""

from django.db import migrations, models


def analyze(apps, schema_editor):
    """SQLite plans by the statistics ANALYZE leaves (sync.refresh_statistics): without a line for
    the new index, the planner took it for the owner's timeline and sorted 360,000 rows to
    find the 512th newest (search._timeline_edge)."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("PRAGMA analysis_limit=1000")
        schema_editor.execute("ANALYZE conversations_dmevent")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_schedule_and_gaps")]

    operations = [
        # from:@user newest first (search._scoped filters sender_x_id): the sender's events in
        # date order, read until a page is full instead of walking the owner's whole timeline
        # (321 ms on SQLite, 402 ms on PostgreSQL at a million events before it).
        migrations.AddIndex(
            model_name="dmevent",
            index=models.Index(
                fields=["owner", "sender_x_id", "-created_at", "-sort_id"],
                name="dmevent_owner_sender_time",
            ),
        ),
        migrations.RunPython(analyze, migrations.RunPython.noop),
    ]
