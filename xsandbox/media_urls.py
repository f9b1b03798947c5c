"""Media bytes: X's DM media download endpoint, the TON URLs of DM photos, and what pbs.twimg.com
and video.twimg.com serve. URL shapes are documented in xsandbox.media_views."""

from django.urls import path

from xsandbox import media_views

urlpatterns = [
    path(
        "2/dm_conversations/media/<str:dm_id>/<str:media_id>/<str:resource_id>",
        media_views.dm_media,
        name="dm_media",
    ),
    path(
        "1.1/ton/data/dm/<str:dm_id>/<str:media_id>/<str:resource_id>",
        media_views.ton_media,
        name="ton_media",
    ),
    path("profile_images/<str:user_id>/<str:name>", media_views.avatar, name="avatar"),
    path("dm_video/<str:media_id>/<path:rest>", media_views.dm_video, name="dm_video"),
    path("dm_gif/<str:media_id>/<path:rest>", media_views.dm_gif, name="dm_gif"),
    path(
        "dm_video_preview/<str:media_id>/<str:name>",
        media_views.video_preview,
        name="dm_video_preview",
    ),
    path("media/<str:name>", media_views.post_photo, name="post_photo"),
]
