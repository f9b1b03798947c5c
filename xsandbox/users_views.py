"""X's user lookups: GET /2/users/me and GET /2/users/by/username/{username}."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from xsandbox import errors, params, render
from xsandbox.auth import api_view
from xsandbox.models import User

USERNAME = r"^[A-Za-z0-9_]{1,15}$"


@require_GET
@api_view(scopes={"tweet.read", "users.read"}, bucket="users_me")
def users_me(request: HttpRequest) -> JsonResponse:
    try:
        query = params.parse_user_query(request.GET)
    except params.InvalidParameter as problem:
        return problem.response(params.vocabulary(request.GET))
    return JsonResponse(render.user_body(request.x_user, query, request.build_absolute_uri("/")))


@require_GET
@api_view(scopes={"tweet.read", "users.read"}, bucket="users_lookup")
def user_by_username(request: HttpRequest, username: str) -> JsonResponse:
    names = params.vocabulary(request.GET)
    try:
        params.check_path("username", username, USERNAME)
        query = params.parse_user_query(request.GET)
    except params.InvalidParameter as problem:
        return problem.response(names)
    user = User.objects.filter(username__iexact=username, gone=False).first()
    if user is None:
        # X answers 200 with only `errors` for a name nobody has (or a suspended account).
        problem = errors.not_found("username", username, "user", names.problems)
        return JsonResponse({"errors": [problem]})
    return JsonResponse(render.user_body(user, query, request.build_absolute_uri("/")))
