from django.urls import path

from xsandbox import media_views

urlpatterns = [
    path(
        "2/dm_conversations/media/<str:dm_id>/<str:media_id>/<str:resource_id>",
        media_views.dm_media,
        name="dm_media",
    ),
]
