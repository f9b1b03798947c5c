from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("", views.export_page, name="page"),
    path("start/", views.start, name="start"),
    path("<str:token>/", views.detail, name="detail"),
    path("<str:token>/download/", views.download, name="download"),
    path("<str:token>/delete/", views.delete, name="delete"),
]
