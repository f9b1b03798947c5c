"""X's Direct Message lookup endpoints (docs/x-api.md §2, §3): the three lists and one event by id.

Every read starts from `visible_events(user)`: the events of conversations the token's user is in,
inside X's 30-day window and never in the future. Something that isn't theirs is answered exactly
like something that doesn't exist, so ids of other people's conversations reveal nothing.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from xsandbox import clock, errors, params, render
from xsandbox.auth import api_view
from xsandbox.models import Event, User

# The scopes X requires for the DM GETs (docs/x-api.md §0.4, §2.1).
DM_SCOPES = {"dm.read", "tweet.read", "users.read"}


@require_GET
@api_view(scopes=DM_SCOPES)
def dm_events(request: HttpRequest) -> JsonResponse:
    """GET /2/dm_events: every conversation of the user, newest first."""
    return _event_list(request, visible_events(request.x_user))


@require_GET
@api_view(scopes=DM_SCOPES)
def dm_events_with(request: HttpRequest, participant_id: str) -> JsonResponse:
    """GET /2/dm_conversations/with/{participant_id}/dm_events: the one-to-one with that user."""
    try:
        params.check_path("participant_id", participant_id, params.USER_ID)
    except params.InvalidParameter as problem:
        return problem.response(params.vocabulary(request.GET))
    conversation_id = one_to_one_id(request.x_user.id, int(participant_id))
    return _event_list(request, visible_events(request.x_user).filter(conversation=conversation_id))


@require_GET
@api_view(scopes=DM_SCOPES)
def conversation_events(request: HttpRequest, conversation_id: str) -> JsonResponse:
    """GET /2/dm_conversations/{id}/dm_events: a one-to-one ("{smaller}-{larger}") or a group."""
    try:
        # The spec calls this path parameter `id` (docs/x-api.md §0.3).
        params.check_path("id", conversation_id, params.CONVERSATION_ID)
    except params.InvalidParameter as problem:
        return problem.response(params.vocabulary(request.GET))
    return _event_list(request, visible_events(request.x_user).filter(conversation=conversation_id))


@require_GET
@api_view(scopes=DM_SCOPES)
def dm_event(request: HttpRequest, event_id: str) -> JsonResponse:
    """GET /2/dm_events/{event_id}: one event, its includes, no meta (docs/x-api.md §2.2).

    An event that doesn't exist, isn't the user's or is outside the window gets what X's v2 lookups
    answer for a missing resource (GET /2/tweets/:id, /2/users/:id): HTTP 200 with no `data` and a
    resource-not-found problem in `errors`, which Get2DmEventsEventIdResponse allows. X's
    resource_type enum has no DM member, so it says "dm_event" (not recorded; docs/x-api.md §5.1)."""
    try:
        params.check_path("event_id", event_id, params.EVENT_ID)
        query = params.parse_event_query(request.GET)
    except params.InvalidParameter as problem:
        return problem.response(params.vocabulary(request.GET))
    event = None
    if int(event_id) <= params.MAX_SNOWFLAKE:
        event = visible_events(request.x_user).filter(id=int(event_id)).first()
    if event is None:
        problem = errors.not_found("event_id", event_id, "dm_event", query.names.problems)
        return _json({"errors": [problem]})
    return _json(render.event_body(event, query, _base_url(request)))


def visible_events(user: User) -> QuerySet[Event]:
    """The user's events that X would return: their conversations only, created in the last
    XSANDBOX_WINDOW_DAYS days (docs/x-api.md §3.3, §9.3) and not after the sandbox's now."""
    now = clock.now()
    return Event.objects.filter(
        conversation__participants=user,
        created_at__gte=now - timedelta(days=settings.XSANDBOX_WINDOW_DAYS),
        created_at__lte=now,
    )


def one_to_one_id(a: int, b: int) -> str:
    # "{smaller}-{larger}" comparing numbers, not strings (docs/x-api.md §3.3).
    return f"{min(a, b)}-{max(a, b)}"


def _event_list(request: HttpRequest, events: QuerySet[Event]) -> JsonResponse:
    try:
        query = params.parse_list_query(request.GET)
    except params.InvalidParameter as problem:
        return problem.response(params.vocabulary(request.GET))
    page, older_exist = _page(events.filter(event_type__in=query.event_types), query)
    meta = {"result_count": len(page)}
    if older_exist:
        meta["next_token"] = params.encode_token(params.Cursor(older=True, anchor=page[-1].id))
    if page:
        # Every non-empty page carries a previous_token, even the first (docs/x-api.md §8.1, §9.4).
        meta["previous_token"] = params.encode_token(params.Cursor(older=False, anchor=page[0].id))
    return _json(render.events_body(page, query, _base_url(request), meta))


def _page(events: QuerySet[Event], query: params.DmQuery) -> tuple[list[Event], bool]:
    """One page newest first by id, and whether older events remain beyond it. Keyset paging on
    the anchor in the token: a next page is strictly older than the anchor, a previous page is the
    max_results events just newer than it, so new events never shift a page."""
    cursor, size = query.cursor, query.max_results
    if cursor is not None and not cursor.older:
        page = list(events.filter(id__gt=cursor.anchor).order_by("id")[:size])[::-1]
        return page, bool(page) and events.filter(id__lt=page[-1].id).exists()
    if cursor is not None:
        events = events.filter(id__lt=cursor.anchor)
    rows = list(events.order_by("-id")[: size + 1])
    return rows[:size], len(rows) > size


def _base_url(request: HttpRequest) -> str:
    # The scheme and host the client reached us on, so media and avatar URLs work from anywhere.
    return request.build_absolute_uri("/")


def _json(body: dict) -> JsonResponse:
    # X sends UTF-8 text as is, not as \u escapes.
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})
