import secrets
import time

from django.http import HttpRequest, HttpResponse


class ApiHeadersMiddleware:
    """Headers X puts on every API answer (docs/x-api.md §7), so clients meet the same noise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        if request.path.startswith("/2/"):
            response["x-transaction-id"] = secrets.token_hex(8)
            response["x-response-time"] = str(int((time.monotonic() - started) * 1000))
            response["api-version"] = "2.166"
            response.setdefault("cache-control", "no-cache, no-store, max-age=0")
            if response.get("Content-Type", "").startswith("application/json"):
                response["Content-Type"] = "application/json; charset=utf-8"
        return response
