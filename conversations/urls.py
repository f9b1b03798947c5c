from django.urls import include, path

from conversations import import_views, media_views, views

# The reader, under the "conversations" namespace.
reader = (
    [
        path("c/<str:x_id>/", views.conversation, name="conversation"),
        path("c/<str:x_id>/older/", views.older, name="older"),
        path("c/<str:x_id>/name/", views.name_group, name="name_group"),
        path("c/<str:x_id>/media/", media_views.gallery, name="gallery"),
        path("c/<str:x_id>/date/", media_views.jump_to_date, name="jump_to_date"),
        path("download/<str:media_key>/", media_views.media_download, name="media_download"),
        path("link/<str:event_id>/<int:index>/", media_views.link_image, name="link_image"),
        path("with/", views.open_with, name="open_with"),
        path("search/", views.search_messages, name="search"),
        path("sync/", views.sync_now, name="sync_now"),
        path("notes/encrypted/hide/", views.hide_encrypted_note, name="hide_encrypted_note"),
        path("media/<str:media_key>/<str:kind>/", views.media_file, name="media"),
        path("avatar/<str:x_id>/", views.avatar, name="avatar"),
        path("import/", import_views.import_page, name="import"),
        path("import/upload/", import_views.upload, name="import_upload"),
        path("import/<int:job_id>/", import_views.import_job, name="import_job"),
    ],
    "conversations",
)

# The site's front page and the header's picture keep their plain names ("home" is where sign-in
# and sign-out land), so this module has no app_name of its own.
urlpatterns = [
    path("", views.home, name="home"),
    path("account/avatar/<str:x_id>/", views.account_avatar, name="account_avatar"),
    path("", include(reader)),
]
