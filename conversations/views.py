from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from conversations import tasks
from conversations.models import SyncState


@require_POST
@login_required
def sync_now(request: HttpRequest) -> HttpResponse:
    tasks.request_sync(request.user.pk)
    SyncState.objects.update_or_create(
        owner=request.user, defaults={}, create_defaults={"status": SyncState.IDLE}
    )
    if request.htmx:
        return sync_status(request)
    return redirect("home")


@require_GET
@login_required
def sync_status(request: HttpRequest) -> HttpResponse:
    state = SyncState.objects.filter(owner=request.user).first()
    response = render(request, "home.html#sync-status", {"sync": state})
    response["Vary"] = "HX-Request"
    return response
