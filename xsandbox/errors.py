"""Error bodies as X sends them (docs/x-api.md §5.2 and §6.2)."""

from django.http import JsonResponse

# The base of Problem types in spec v2.166 and every recorded body. Answers in v2.167's post vocabulary
# use that spec's base, https://api.x.com/2/problems/ (xsandbox.params.Names.problems).
PROBLEMS = "https://api.twitter.com/2/problems/"


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra
) -> JsonResponse:
    body = {"title": title, "detail": detail, "type": type_, "status": status, **extra}
    return JsonResponse(body, status=status)


def unauthorized() -> JsonResponse:
    return problem(401, "Unauthorized", "Unauthorized")


def forbidden() -> JsonResponse:
    return problem(403, "Forbidden", "Forbidden")


def too_many_requests() -> JsonResponse:
    return problem(429, "Too Many Requests", "Too Many Requests")


def server_error(status: int) -> JsonResponse:
    title = {500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Server Error")
    return problem(status, title, title)


def invalid_request(
    parameter: str, value: str, message: str, problems: str = PROBLEMS
) -> JsonResponse:
    body = {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": problems + "invalid-request",
    }
    return JsonResponse(body, status=400)


def not_found(parameter: str, value: str, resource_type: str, problems: str = PROBLEMS) -> dict:
    """One entry of a 200's partial `errors` array, or of a 404's. X's docs show the v2.167 type with
    the same resource_type and wording as before ("tweet", "Could not find tweet with…",
    docs/x-api.md §5.2), so only the type's base follows the vocabulary."""
    noun = {"user": "user", "tweet": "tweet", "media": "media"}.get(resource_type, resource_type)
    return {
        "value": value,
        "detail": f"Could not find {noun} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": problems + "resource-not-found",
    }


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)
