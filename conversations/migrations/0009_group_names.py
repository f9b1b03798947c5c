from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0008_read_marks"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="name",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="conversation",
            name="archive_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="conversation",
            name="archive_name_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
