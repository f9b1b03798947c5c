"""The Export page: pick a format and a scope; small exports download at once, large ones run in
the worker with a progress bar and end in a download link. An export is its owner's alone: every
view finds it through `_mine`, and anything else is a 404."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from conversations import queries, rendering
from dmreader import accounts
from exports import files, tasks
from exports.models import Export
from exports.scope import Scope, ScopeError, describe, select

# Up to this many events an export is written straight into the response; more go to the worker.
DOWNLOAD_AT_ONCE = 5_000
LISTED = 50


def _mine(request: HttpRequest, token: str) -> Export:
    return get_object_or_404(Export, owner=request.user, token=token, expires_at__gt=timezone.now())


def _vary(response: HttpResponse) -> HttpResponse:
    response["Vary"] = "HX-Request"
    return response


def _form(request: HttpRequest, data) -> dict:
    """What the form shows: the chosen conversations (?conversation=<id>, or the search page's
    ?in=<id>) with their titles, the query, the dates and the format."""
    account = accounts.account_of(request.user)
    me = account.x_user_id if account else ""
    chosen = [*data.getlist("conversation"), *data.getlist("in")]
    conversations = []
    for x_id in dict.fromkeys(c for c in chosen if c):
        conversation = queries.conversation(request.user, x_id)
        title = rendering.title(conversation, me)
        conversations.append({"x_id": conversation.x_id, "title": title})
    chosen_format = data.get("format", Export.HTML)
    return {
        "formats": Export.FORMATS,
        "format": chosen_format if chosen_format in dict(Export.FORMATS) else Export.HTML,
        "conversations": conversations,
        "q": data.get("q", "").strip(),
        "after": data.get("after", ""),
        "before": data.get("before", ""),
    }


def _page(request: HttpRequest, form: dict, problem: str = "", status: int = 200) -> HttpResponse:
    exports = Export.objects.filter(owner=request.user, expires_at__gt=timezone.now()).order_by(
        "-created_at"
    )[:LISTED]
    context = {
        "form": form,
        "exports": exports,
        "problem": problem,
        "download_at_once": f"{DOWNLOAD_AT_ONCE:,}",
    }
    return render(request, "exports/export.html", context, status=status)


@require_GET
@login_required
def export_page(request: HttpRequest) -> HttpResponse:
    return _page(request, _form(request, request.GET))


@require_POST
@login_required
def start(request: HttpRequest) -> HttpResponse:
    form = _form(request, request.POST)
    if request.POST.get("format") not in dict(Export.FORMATS):
        return _page(request, form, "Pick a format.", status=400)
    try:
        scope = Scope.build(
            conversations=[c["x_id"] for c in form["conversations"]],
            after=form["after"],
            before=form["before"],
            query=form["q"],
        )
        selection = select(request.user, scope)
    except ScopeError as problem:
        return _page(request, form, str(problem), status=400)
    files.remove_expired()
    now = timezone.now()
    if selection.total <= DOWNLOAD_AT_ONCE:
        job = files.job_for(request.user, selection)
        job.generated_at = now
        response = StreamingHttpResponse(
            files.chunks(job, form["format"]), content_type=files.CONTENT_TYPES[form["format"]]
        )
        name = files.file_name(form["format"], request.user, now)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
    export = Export.objects.create(
        owner=request.user,
        format=form["format"],
        scope=scope.as_dict(),
        description=describe(scope, [c["title"] for c in form["conversations"]]),
        events_total=selection.total,
        file_name=files.file_name(form["format"], request.user, now),
    )
    tasks.request_export(export.pk)
    return redirect("exports:detail", token=export.token)


@require_GET
@login_required
def detail(request: HttpRequest, token: str) -> HttpResponse:
    """The export's progress (polled by htmx while it runs), then its download link."""
    export = _mine(request, token)
    template = "exports/detail.html#status" if request.htmx else "exports/detail.html"
    return _vary(render(request, template, {"export": export}))


@require_GET
@login_required
def download(request: HttpRequest, token: str) -> FileResponse:
    export = _mine(request, token)
    path = files.path_of(export)
    if export.status != Export.DONE or not path.exists():
        raise Http404("This export is not ready")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=export.file_name,
        content_type=files.CONTENT_TYPES[export.format],
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
def delete(request: HttpRequest, token: str) -> HttpResponse:
    files.delete(_mine(request, token))
    return redirect("exports:page")
