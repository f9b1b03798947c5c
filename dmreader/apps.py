from django.apps import AppConfig


class DmReaderConfig(AppConfig):
    name = "dmreader"
    verbose_name = "DM Reader accounts"
