"""X's user lookups: GET /2/users/me, GET /2/users/by/username/{username} and GET /2/users?ids=
(getUsersByIds: up to 100 ids, comma-separated; docs/x-api.md §2.3)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from xsandbox import errors, params, render
from xsandbox.auth import api_view
from xsandbox.models import User

USERNAME = r"^[A-Za-z0-9_]{1,15}$"
USER_ID = r"^[0-9]{1,19}$"
IDS_MAX = 100  # the spec's maxItems


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


@require_GET
@api_view(scopes={"tweet.read", "users.read"}, bucket="users_lookup")
def users_by_ids(request: HttpRequest) -> JsonResponse:
    """The users of `ids`, in the order asked, each once. An id nobody has is a partial error
    beside `data` ("Could not find user with ids: [...]"), a suspended or deactivated account one
    too ("User has been suspended"); with none found the body has only `errors`, status 200."""
    names = params.vocabulary(request.GET)
    rest = request.GET.copy()
    raw = rest.pop("ids", [""])[-1]
    try:
        query = params.parse_user_query(rest)
        ids = _ids(raw)
    except params.InvalidParameter as problem:
        return problem.response(names)
    found = {u.id: u for u in User.objects.filter(id__in=[int(i) for i in ids])}
    base_url = request.build_absolute_uri("/")
    data, problems = [], []
    latest = render.latest_posts(set(found)) if "most_recent_tweet_id" in query.user_fields else {}
    for user_id in ids:
        user = found.get(int(user_id))
        if user is None:
            problems.append(errors.not_found("ids", user_id, "user", names.problems))
        elif user.gone:
            problems.append(_suspended(user_id, names.problems))
        else:
            fields = query.user_fields
            data.append(
                render.user_object(user, fields, base_url, query.names, latest.get(user.id))
            )
    body: dict = {"data": data} if data else {}
    if problems:
        body["errors"] = problems
    return JsonResponse(body)


def _ids(raw: str) -> list[str]:
    """`ids` as X checks it: present, 1 to 100 ids of digits; a repeated id is answered once."""
    if not raw:
        raise params.InvalidParameter("ids", raw, "The `ids` query parameter can not be empty")
    ids = raw.split(",")
    if len(ids) > IDS_MAX:
        raise params.InvalidParameter(
            "ids",
            raw,
            f"The `ids` query parameter value [{raw[:40]}…] is not between 1 and 100 items",
        )
    for user_id in ids:
        params.check_path("ids", user_id, USER_ID)
        if int(user_id) > params.MAX_SNOWFLAKE:
            raise params.InvalidParameter(
                "ids", user_id, f"The `ids` query parameter value [{user_id}] is not valid"
            )
    return list(dict.fromkeys(str(int(i)) for i in ids))


def _suspended(user_id: str, problems: str) -> dict:
    return {
        "value": user_id,
        "detail": f"User has been suspended: [{user_id}].",
        "title": "Forbidden",
        "resource_type": "user",
        "parameter": "ids",
        "resource_id": user_id,
        "type": problems + "resource-not-found",
    }
