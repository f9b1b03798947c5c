"""Reader views: thin. Reads go through queries.py, writes through sync.py (via tasks)."""

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from conversations import media, queries, rendering, search, sync, tasks
from conversations.models import Conversation, Media, SyncState
from dmreader import accounts, xauth

_EVENT_ID = re.compile(r"^[0-9]{1,19}$")
_USERNAME = re.compile(r"^@?(\w{1,15})$")


def _vary(response: HttpResponse) -> HttpResponse:
    response["Vary"] = "HX-Request"
    return response


def _me(request: HttpRequest) -> str:
    account = accounts.account_of(request.user)
    return account.x_user_id if account else ""


# Inbox ------------------------------------------------------------------------------------------


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The first page of conversations; ?after=<conversation id> the next one (infinite scroll).
    Only the first page is re-rendered by the polling while a sync runs."""
    me = _me(request)
    after = (
        queries.conversation(request.user, request.GET["after"])
        if request.GET.get("after")
        else None
    )
    page = list(queries.inbox(request.user, after=after)[: queries.INBOX_PAGE + 1])
    rows = [rendering.inbox_row(c, me) for c in page[: queries.INBOX_PAGE]]
    more = rows[-1]["conversation"].x_id if len(page) > queries.INBOX_PAGE else ""
    context = {"rows": rows, "more": more}
    if after is not None and request.htmx:
        return _vary(render(request, "inbox.html#inbox-rows", context))
    context["sync"] = SyncState.objects.filter(owner=request.user).first()
    context["account"] = accounts.account_of(request.user)
    template = "inbox.html#inbox-body" if request.htmx else "inbox.html"
    return _vary(render(request, template, context))


@require_POST
@login_required
def sync_now(request: HttpRequest) -> HttpResponse:
    SyncState.objects.get_or_create(owner=request.user)
    SyncState.objects.filter(owner=request.user, lease_until__isnull=True).update(
        status=SyncState.RUNNING
    )
    tasks.request_sync(request.user.pk)
    if request.htmx:
        return inbox(request)
    return redirect("home")


# Conversation -----------------------------------------------------------------------------------


@require_GET
@login_required
def conversation(request: HttpRequest, x_id: str) -> HttpResponse:
    """The newest page on a direct load, or the messages around one (?around=<event id>, from a
    search result). Fragments for infinite scroll: ?before=<id> the page older than that event
    (fetched from X when the cache runs out), ?after=<id> the page newer than it."""
    convo = queries.conversation(request.user, x_id)
    cursors = {name: request.GET.get(name, "") for name in ("before", "after", "around")}
    name, value = next(((n, v) for n, v in cursors.items() if v), ("", ""))
    if value and not _EVENT_ID.match(value):
        raise Http404("Not an event id")
    anchor = queries.event(request.user, convo, value) if value else None
    if name == "after":
        page = queries.events_after(request.user, convo, anchor)
        context = _conversation_context(request, convo, page, ended=False, newer_only=True)
        return _vary(render(request, "conversation.html#newer", context))
    if name == "around":
        older = queries.events_before(request.user, convo, anchor, limit=queries.PAGE // 2)
        newer = queries.events_after(request.user, convo, anchor, limit=queries.PAGE // 2)
        page = queries.Page(
            events=[*older.events, anchor, *newer.events],
            found_oldest=older.found_oldest,
            found_newest=newer.found_newest,
        )
        exhausted = page.found_oldest and _history_exhausted(request.user, convo)
    else:
        page = queries.events_before(request.user, convo, anchor)
        exhausted = page.found_oldest and _history_exhausted(request.user, convo)
        if page.found_oldest and not exhausted:
            _fetch_older(request, convo)
            convo.refresh_from_db()
            page = queries.events_before(request.user, convo, anchor)
            exhausted = page.found_oldest and _history_exhausted(request.user, convo)
    context = _conversation_context(request, convo, page, ended=exhausted)
    context["highlight"] = anchor.x_id if name == "around" else ""
    if request.htmx and name == "before":
        return _vary(render(request, "conversation.html#older", context))
    return _vary(render(request, "conversation.html", context))


def _creates(convo: Conversation, event) -> bool:
    return convo.is_group and convo.x_id.isdigit() and int(event.x_id) == int(convo.x_id) + 4


def _history_exhausted(owner, convo: Conversation) -> bool:
    """Nothing older to ask X for: the conversation's own endpoint said so, or the inbox backfill
    already walked X's whole window (every conversation's events in it are cached)."""
    if convo.history_complete:
        return True
    return SyncState.objects.filter(owner=owner, backfill_complete=True).exists()


def _fetch_older(request: HttpRequest, convo: Conversation) -> None:
    # The person is waiting: up to three pages now, from the requests a background sync leaves.
    outcome = sync.sync_conversation(request.user.pk, convo.x_id, pages=3)
    request.fetch_outcome = outcome


def _conversation_context(
    request: HttpRequest,
    convo: Conversation,
    page: queries.Page,
    *,
    ended: bool,
    newer_only: bool = False,
) -> dict:
    me = _me(request)
    participants = list(convo.participants.all())
    people = {p.x_id: p for p in participants}
    for event in page.events:
        if event.sender is not None:
            people.setdefault(event.sender_x_id, event.sender)
    oldest = page.events[0] if page.events else None
    outcome = getattr(request, "fetch_outcome", None)
    return {
        "conversation": convo,
        "title": rendering.conversation_title(participants, me),
        "others": [p for p in participants if p.x_id != me],
        "blocks": rendering.timeline(page.events, people, me),
        "oldest": oldest,
        "newest": page.events[-1] if page.events else None,
        "found_newest": page.found_newest,
        "newer_only": newer_only,
        "ended": ended,
        # Only a group's creation proves a beginning (its id is the creating event's minus 4,
        # docs/x-api.md §3.3); otherwise X's 30-day window may have cut the history short.
        "beginning": ended and oldest is not None and _creates(convo, oldest),
        "waiting_until": outcome.retry_at
        if outcome and outcome.status == SyncState.WAITING
        else None,
        "fetch_failed": outcome.error if outcome and outcome.status == SyncState.FAILED else "",
    }


@require_GET
@login_required
def open_with(request: HttpRequest) -> HttpResponse:
    """Open the one-to-one with someone by @username (known from the cache) or X user id."""
    who = request.GET.get("who", "").strip()
    match = _USERNAME.match(who)
    participant_id = ""
    if who.isdigit() and len(who) <= 19:
        participant_id = who
    elif match:
        user = queries.x_user_by_username(request.user, match.group(1))
        participant_id = user.x_id if user else sync.find_user_id(request.user.pk, match.group(1))
    me = _me(request)
    if not participant_id or participant_id == me:
        context = {"who": who, "problem": f"No account called {who or 'that'} was found on X."}
        if who.isdigit():
            context["problem"] = "That is your own account."
        return render(request, "open_with.html", context, status=404 if who else 200)
    conversation_id = "-".join(sorted([participant_id, me], key=int))
    outcome = sync.sync_conversation_with(request.user.pk, participant_id, pages=1)
    found = Conversation.objects.filter(
        owner=request.user, x_id=conversation_id, last_event__isnull=False
    ).exists()
    if not found:
        problem = outcome.error or f"You have no messages with {who} in the last 30 days."
        return render(request, "open_with.html", {"who": who, "problem": problem}, status=404)
    url = reverse("conversations:conversation", args=[conversation_id])
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


# Media ------------------------------------------------------------------------------------------


@require_GET
@login_required
def media_file(request: HttpRequest, media_key: str, kind: str) -> HttpResponse:
    """A photo, video or preview of a cached DM, fetched on the server for its owner only."""
    item = queries.media_item(request.user, media_key)
    url, token = _media_source(request, item, kind)
    return media.proxy(url, owner_id=request.user.pk, max_bytes=100_000_000, token=token)


def _media_source(request: HttpRequest, item: Media, kind: str) -> tuple[str, str]:
    if kind == "preview":
        return item.preview_image_url, ""
    if kind == "video":
        return media.best_mp4(item.variants), ""
    if kind == "full" and item.url:
        # DM photos are private: X serves them to the participants' own token only.
        account = request.user.x_account
        try:
            token = xauth.fresh_access_token(account.pk)
        except xauth.XAuthError:
            raise Http404("Sign in again to load this photo") from None
        return media.download_url(item.url), token
    raise Http404("No such media file")


@require_GET
@login_required
def avatar(request: HttpRequest, x_id: str) -> HttpResponse:
    user = queries.x_user(request.user, x_id)
    if not user.profile_image_url:
        return HttpResponseRedirect(static("img/avatar.svg"))
    response = media.proxy(user.profile_image_url, owner_id=request.user.pk, max_bytes=2_000_000)
    if response.status_code != 200:
        return HttpResponseRedirect(static("img/avatar.svg"))
    return response


# Search -----------------------------------------------------------------------------------------


@require_GET
@login_required
def search_messages(request: HttpRequest) -> HttpResponse:
    """Full-text search, newest first or best match, paged by keyset for infinite scroll. The
    query lives in the URL, so a search can be shared and back/forward work."""
    raw = request.GET.get("q", "").strip()
    order = "best" if request.GET.get("order") == "best" else "newest"
    within = None
    if request.GET.get("in"):
        within = queries.conversation(request.user, request.GET["in"])
    context = {
        "q": raw,
        "order": order,
        "within": within,
        "results": [],
        "cursor": "",
        "problem": "",
    }
    if within is not None:
        context["within_title"] = rendering.conversation_title(
            list(within.participants.all()), _me(request)
        )
    if raw:
        try:
            page = search.run(
                request.user,
                search.parse(raw),
                order=order,
                cursor=request.GET.get("cursor", ""),
                conversation=within,
            )
        except search.SearchError as problem:
            context["problem"] = str(problem)
        else:
            context.update(results=page.results, cursor=page.cursor)
    more = request.htmx and request.GET.get("cursor")
    return _vary(render(request, "search.html#results" if more else "search.html", context))
