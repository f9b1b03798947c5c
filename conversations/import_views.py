"""The Import page: a person uploads X's archive of their data (the ZIP, or its DM data files),
streamed to disk (uploads.py); the worker imports it (import_jobs.py via tasks.run_import) while
the job's page shows a progress bar, polled by htmx, that ends with a link to the inbox.

A job is its owner's alone: every one is found through queries.import_job (404 otherwise)."""

import functools
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from conversations import import_jobs, queries, tasks, uploads
from conversations.models import ImportJob
from dmreader import accounts
from dmreader.middleware import check_form, parses_its_own_upload

View = Callable[..., HttpResponse]


def _reader(view: View) -> View:
    """Signed in, with an X account (whose archive is the only one taken)."""

    @functools.wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if accounts.account_of(request.user) is None:
            return render(request, "no_account.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _page(request: HttpRequest, problem: str = "", status: int = 200) -> HttpResponse:
    jobs = list(queries.import_jobs(request.user)[: queries.IMPORTS_LISTED])
    context = {
        "jobs": jobs,
        "under_way": next((job for job in jobs if not job.finished), None),
        "problem": problem,
        "limit": settings.IMPORT_MAX_UPLOAD_BYTES,
        "account": accounts.account_of(request.user),
    }
    context["sandbox_archive"] = sandbox_archive_url(context["account"].username)
    return render(request, "conversations/import.html", context, status=status)


def sandbox_archive_url(username: str) -> str:
    """On the local X sandbox (make run, the demo), where it hands out the account's archive;
    "" on X itself, whose archive comes by e-mail."""
    if settings.X_API_BASE_URL.rstrip("/") != settings.XSANDBOX_URL:
        return ""
    return f"{settings.XSANDBOX_URL}/archives/{username}.zip"


@require_GET
@_reader
def import_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@parses_its_own_upload
@csrf_exempt  # checked by csrf_protect below, once our own handler has read the body
@require_POST
@_reader
def upload(request: HttpRequest) -> HttpResponse:
    """Take the upload into a new folder under IMPORT_DIR/<owner>/ and queue its import. Refused
    before a byte of the body is read: a second import while one is under way, and an upload
    whose declared size is past IMPORT_MAX_UPLOAD_BYTES."""
    if queries.import_under_way(request.user):
        return _page(request, "An import is already under way: wait for it to end.", 409)
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _page(request, _too_big(limit), 413)
    folder = uploads.new_upload_folder(request.user.pk)
    handler = uploads.ArchiveUploadHandler(request, folder, limit)
    request.upload_handlers = [handler]
    created = []

    @csrf_protect
    def take(request: HttpRequest) -> HttpResponse:
        check_form(request.POST)
        if handler.too_big:
            return _page(request, _too_big(limit), 413)
        try:
            path = uploads.archive_path(folder, handler.files)
        except uploads.UploadRefused as problem:
            return _page(request, str(problem), 400)
        names = ", ".join(_shown(f.name) for f in handler.files)
        job = import_jobs.create(
            request.user.pk, path, file_name=names, size=sum(f.size for f in handler.files)
        )
        created.append(job)
        tasks.request_import(job.pk)
        return redirect("conversations:import_job", job_id=job.pk)

    try:
        return take(request)
    finally:
        if not created:
            uploads.discard(folder)


def _too_big(limit: int) -> str:
    return (
        f"That file is larger than the {filesizeformat(limit)} this server takes. Choose "
        "manifest.js and the direct-messages files from the archive's data folder instead."
    )


def _shown(name: str) -> str:
    """A file name as the person chose it, without control characters (it is shown and stored)."""
    return "".join(c for c in name if unicodedata.category(c) != "Cc")[:100] or "upload"


@require_GET
@_reader
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's progress (its #progress partial polled by htmx until it ends)."""
    job = queries.import_job(request.user, job_id)
    lease_gone = job.lease_until is not None and job.lease_until < timezone.now()
    context = {
        "job": job,
        "time_left": _time_left(job.seconds_left),
        "interrupted": job.status in (ImportJob.CHECKING, ImportJob.IMPORTING) and lease_gone,
    }
    template = "conversations/import_job.html"
    response = render(request, template + "#progress" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _time_left(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''} left"
    return f"about {round(minutes / 60)} hours left"
