from django.urls import path

from conversations import views

app_name = "conversations"
urlpatterns = [
    path("sync/", views.sync_now, name="sync_now"),
    path("sync/status/", views.sync_status, name="sync_status"),
]
