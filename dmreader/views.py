from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations import media
from conversations.models import SyncState


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "welcome.html")
    context = {
        "account": getattr(request.user, "x_account", None),
        "sync": SyncState.objects.filter(owner=request.user).first(),
    }
    return render(request, "home.html", context)


@require_GET
@login_required
def account_avatar(request: HttpRequest) -> HttpResponse:
    account = getattr(request.user, "x_account", None)
    return media.proxy(account.profile_image_url if account else "", max_bytes=2_000_000)
