from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations import media, views
from dmreader import accounts


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "welcome.html")
    return views.inbox(request)


@require_GET
@login_required
def account_avatar(request: HttpRequest) -> HttpResponse:
    account = accounts.account_of(request.user)
    url = account.profile_image_url if account else ""
    return media.proxy(url, owner_id=request.user.pk, max_bytes=2_000_000)
