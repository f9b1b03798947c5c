from django.urls import path

from conversations import views

app_name = "conversations"
urlpatterns = [
    path("c/<str:x_id>/", views.conversation, name="conversation"),
    path("with/", views.open_with, name="open_with"),
    path("search/", views.search_messages, name="search"),
    path("sync/", views.sync_now, name="sync_now"),
    path("media/<str:media_key>/<str:kind>/", views.media_file, name="media"),
    path("avatar/<str:x_id>/", views.avatar, name="avatar"),
]
