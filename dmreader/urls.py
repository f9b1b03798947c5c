from django.contrib import admin
from django.urls import include, path

from dmreader import health, leaving, signin, views

urlpatterns = [
    path("", views.home, name="home"),
    path("auth/login/", signin.start, name="signin"),
    path("auth/callback/", signin.callback, name="oauth_callback"),
    path("auth/logout/", signin.sign_out, name="signout"),
    path("account/avatar/", views.account_avatar, name="account_avatar"),
    path("", include("conversations.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("account/", leaving.account, name="account"),
    path("account/delete/", leaving.delete_account, name="account_delete"),
]
