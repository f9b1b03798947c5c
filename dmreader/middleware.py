"""Request checks that hold for every URL of the site."""

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse


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
        if request.method == "POST" and _has_nul(request.POST):
            raise NulInRequest("NUL in the form")
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


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())
