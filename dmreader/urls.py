from django.contrib import admin
from django.urls import include, path

from dmreader import health, leaving, signin

urlpatterns = [
    path("auth/login/", signin.start, name="signin"),
    path("auth/callback/", signin.callback, name="oauth_callback"),
    path("auth/logout/", signin.sign_out, name="signout"),
    # The reader (and the front page) by string: dmreader imports nothing from conversations.
    path("", include("conversations.urls")),
    path("export/", include("exports.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("account/", leaving.account, name="account"),
    path("account/delete/", leaving.delete_account, name="account_delete"),
]
