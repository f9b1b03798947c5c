"""Request checks that hold for every URL of the site."""

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve


class NulInRequest(SuspiciousOperation):
    """A NUL character in the path, the query or a form."""


def reject_nul(get_response: Callable[[HttpRequest], HttpResponse]):
    """Answer 400 to any request carrying U+0000 in its path, query string or form fields, and
    ignore a cookie carrying one.

    No id, cursor, search or name of ours can contain one, and PostgreSQL refuses it in any text
    parameter ("A string literal cannot contain NUL"), so one reaching a query would be a 500 there
    and a 404 on SQLite. Refused here once, it never reaches a view. (SuspiciousOperation: Django
    answers 400 through handler400 and logs it to django.security.)"""

    def middleware(request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _has_nul(request.GET):
            raise NulInRequest("NUL in the URL")
        if request.method == "POST" and not _parses_its_own_upload(request):
            check_form(request.POST)
        if any("\x00" in name or "\x00" in value for name, value in request.COOKIES.items()):
            # A quoted cookie may spell NUL as "\000". Dropped rather than refused: the browser
            # would send it again with every request, locking the person out until it expires.
            request.COOKIES = {
                name: value
                for name, value in request.COOKIES.items()
                if "\x00" not in name and "\x00" not in value
            }
        return get_response(request)

    return middleware


def parses_its_own_upload(view: Callable) -> Callable:
    """Mark a view that reads its request body itself, with its own upload handlers (an upload
    of several GB streamed to its folder on disk): reading request.POST here first would parse the
    body with Django's default handlers before the view could choose. The view must call
    `check_form(request.POST)` once it has read it."""
    view.parses_its_own_upload = True
    return view


def check_form(data) -> None:
    if _has_nul(data):
        raise NulInRequest("NUL in the form")


def _parses_its_own_upload(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return getattr(match.func, "parses_its_own_upload", False)


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())
