"""Reader views: thin. A GET reads through queries.py and renders; the few POSTs ask the sync side
(sync.py, tasks.py) for something and render how it went. None of them talks to X itself."""

import functools
import re
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from conversations import (
    gaps,
    media,
    queries,
    reactions,
    read_state,
    rendering,
    schedule,
    search,
    store,
    sync,
    tasks,
    xids,
)
from conversations.models import Conversation, ReadMark, SyncState
from dmreader import accounts

# X's usernames: ASCII letters, digits and "_", 1 to 15 (\w would let in any script's letters).
_USERNAME = re.compile(r"@?([A-Za-z0-9_]{1,15})")

View = Callable[..., HttpResponse]


def _varies_on_htmx(response: HttpResponse) -> HttpResponse:
    # Browsers and proxies must not answer a full page load with a cached htmx fragment, nor
    # htmx's history restore (a whole page) with the thread pane's fragment of the same URL.
    patch_vary_headers(response, ["HX-Request", "HX-Target", "HX-History-Restore-Request"])
    return response


def _reader(view: View) -> View:
    """Signed in, with an X account: a staff user made with createsuperuser has none, and gets a
    page that says so rather than an error."""

    @functools.wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if accounts.account_of(request.user) is None:
            return render(request, "no_account.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _me(request: HttpRequest) -> str:
    return accounts.account_of(request.user).x_user_id


# The inbox ------------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The welcome page, or the signed-in person's inbox."""
    if not request.user.is_authenticated:
        return render(request, "welcome.html")
    return _inbox_view(request)


@_reader
def _inbox_view(request: HttpRequest) -> HttpResponse:
    return _varies_on_htmx(_inbox(request))


def _inbox(request: HttpRequest) -> HttpResponse:
    """The first page of conversations; ?after=<conversation id> the next one (infinite scroll).
    Only the first page is re-rendered by the polling while a sync runs. From about 1024 px wide
    the inbox is a pane beside an empty thread pane that opening a row fills (static/js/panes.js)."""
    after = None
    if request.method == "GET" and request.GET.get("after"):
        after = queries.conversation(request.user, _conversation_id(request.GET["after"]))
    context = _inbox_rows(request, after=after)
    if after is not None and request.htmx:
        return render(request, "inbox.html#inbox-rows", context)
    context.update(_inbox_pane(request))
    if request.method == "GET" and schedule.sync_if_stale(request.user.pk, context["sync"]):
        context["sync"].status = SyncState.RUNNING  # what request_sync just wrote
    context["encrypted_note"] = request.COOKIES.get(ENCRYPTED_NOTE_COOKIE) != "hidden"
    return render(request, "inbox.html#inbox-body" if _fragment(request) else "inbox.html", context)


def _fragment(request: HttpRequest) -> bool:
    """An htmx request for a piece of the page. htmx's history restore (back or forward to a URL
    it pushed, its own cache being off: base.html) gets the whole page, of which it keeps the
    thread pane (hx-history-elt)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _inbox_rows(
    request: HttpRequest,
    *,
    after: Conversation | None = None,
    page: list[Conversation] | None = None,
) -> dict:
    if page is None:
        page = queries.inbox_page(request.user, after=after)
    me = _me(request)
    now = timezone.now()
    rows = [rendering.inbox_row(c, me, now) for c in page[: queries.INBOX_PAGE]]
    more = rows[-1]["x_id"] if len(page) > queries.INBOX_PAGE else ""
    return {"rows": rows, "more": more}


def _inbox_pane(request: HttpRequest, history_gaps: list | None = None) -> dict:
    """What the inbox shows around its rows: the sync's status and the history's gaps."""
    if history_gaps is None:
        history_gaps = queries.history_gaps(request.user, None)[None]
    return {
        "sync": queries.sync_state(request.user),
        "account": accounts.account_of(request.user),
        "gaps": [gaps.sentence(g) for g in history_gaps],
    }


@require_POST
@_reader
def sync_now(request: HttpRequest) -> HttpResponse:
    """Ask for a sync (the worker runs it); with htmx, the inbox's status and rows re-rendered."""
    tasks.request_sync(request.user.pk)
    if request.htmx:
        return _varies_on_htmx(_inbox(request))
    return _varies_on_htmx(redirect("home"))


# The inbox says once that X's encrypted chats are probably not here; a person who has read it
# hides it for this browser. A cookie, not a row: it is about what this screen shows.
ENCRYPTED_NOTE_COOKIE = "encrypted_note"


@require_POST
@_reader
def hide_encrypted_note(request: HttpRequest) -> HttpResponse:
    """Hide the inbox's note on encrypted chats in this browser (for a year); with htmx the note
    is swapped for nothing, without it the inbox loads again."""
    response = HttpResponse("") if request.htmx else redirect("home")
    response.set_cookie(
        ENCRYPTED_NOTE_COOKIE,
        "hidden",
        max_age=365 * 24 * 3600,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


@require_GET
@login_required
def account_avatar(request: HttpRequest, x_id: str) -> HttpResponse:
    """The signed-in account's own picture. Its URL names the account and the picture's version
    (the `account_avatar_url` tag), because the answer is cached for a day: one URL for everyone
    would show the last account's face to the next one signing in on the same browser."""
    account = accounts.account_of(request.user)
    if account is None or account.x_user_id != x_id:
        raise Http404("Not your account")
    return media.image_or_placeholder(account.profile_image_url, owner_id=request.user.pk)


# A conversation -------------------------------------------------------------------------------


def _conversation_id(value: str) -> str:
    if not xids.is_conversation_id(value):
        raise Http404("Not a conversation id")
    return value


def _event_id(value: str) -> str:
    if value and not xids.is_x_id(value):
        raise Http404("Not an event id")
    return value


@require_GET
@_reader
def conversation(request: HttpRequest, x_id: str) -> HttpResponse:
    """The newest page on a direct load, or the messages around one (?around=<event id>, from a
    search result). Fragments for infinite scroll: ?before=<id> the cached page older than that
    event, ?after=<id> the page newer than it. Where the cache runs out, the page offers to fetch
    older messages from X (`older`, a POST).

    A whole page has the inbox beside the thread (two panes from about 1024 px); an inbox row
    opened with htmx (HX-Target: thread-pane) gets the thread alone. Showing the newest message
    moves the owner's read mark there (read_state.py); the mark as it was puts the "New" line."""
    cursor = {name: _event_id(request.GET.get(name, "")) for name in ("before", "after", "around")}
    name = next((n for n, v in cursor.items() if v), "")
    pane = _fragment(request) and request.htmx.target == "thread-pane"
    if name == "after" and (pane or not _fragment(request)):
        # A whole page newer than an event is the page around it (the "newer" link's own URL).
        name, cursor["around"] = "around", cursor["after"]
    if name == "after":
        template = "conversation.html#newer"
    elif name == "before" and _fragment(request):
        template = "conversation.html#older"
    elif pane:
        template = "conversation.html#thread"
    else:
        template = "conversation.html"
    whole = template == "conversation.html"
    if whole:
        convo, inbox_page = queries.conversation_and_inbox(request.user, _conversation_id(x_id))
    else:
        convo = queries.conversation(request.user, _conversation_id(x_id))
    reading = queries.read_conversation(request.user, convo, **{name: cursor[name]} if name else {})
    opening = name in ("", "around")
    mark = queries.read_mark(request.user, convo) if opening or name == "after" else None
    history_gaps = queries.history_gaps(request.user, convo, *[None] if whole else [])
    context = _conversation_context(
        request,
        convo,
        reading,
        mark=mark if opening and not cursor["around"] else None,
        history_gaps=history_gaps[convo.pk],
    )
    if reading.page.found_newest and reading.newest is not None and name != "before":
        # After the thread took its "New" line from the mark as it was: the open conversation's
        # row in the inbox beside it (a whole page) is no longer new.
        read_state.mark_seen(
            owner=request.user, conversation=convo, event=reading.newest, current=mark
        )
        if whole:
            read_state.seen_in(inbox_page, convo, reading.newest)
    context["newer_only"] = name == "after"
    context["pane_only"] = template == "conversation.html#thread"
    if whole:
        _with_inbox(request, context, page=inbox_page, history_gaps=history_gaps[None])
    context["highlight"] = cursor["around"]
    return _varies_on_htmx(render(request, template, context))


@require_POST
@_reader
def older(request: HttpRequest, x_id: str) -> HttpResponse:
    """Fetch older history from X (the person scrolled past the cache's oldest event) and show
    what came of it: the older messages, the beginning, when X's rate limit lets them load, or
    why they could not. With htmx the page's "older messages" row is swapped for that; without
    JavaScript it is the page older than `before`."""
    convo = queries.conversation(request.user, _conversation_id(x_id))
    before = _event_id(request.POST.get("before", ""))
    reading = queries.read_conversation(request.user, convo, before=before)
    outcome = None
    if reading.page.found_oldest and not reading.ended:
        # The person is waiting: up to three pages, from the requests a background sync leaves.
        outcome = sync.sync_conversation(request.user.pk, convo.x_id, pages=3)
        convo = queries.conversation(request.user, convo.x_id)  # where its history stands now
        reading = queries.read_conversation(request.user, convo, before=before)
    context = _conversation_context(request, convo, reading, outcome=outcome)
    if request.htmx:
        return _varies_on_htmx(render(request, "conversation.html#older", context))
    return _varies_on_htmx(render(request, "conversation.html", _with_inbox(request, context)))


def _with_inbox(
    request: HttpRequest,
    context: dict,
    *,
    page: list[Conversation] | None = None,
    history_gaps: list | None = None,
) -> dict:
    """A whole conversation page: the inbox pane beside the thread, its row marked as open.
    `page` and `history_gaps`: the inbox's, where the view read them with the conversation's."""
    context.update(_inbox_rows(request, page=page))
    context.update(_inbox_pane(request, history_gaps), open_id=context["conversation"].x_id)
    return context


def _conversation_context(
    request: HttpRequest,
    convo: Conversation,
    reading: queries.Reading,
    *,
    outcome: sync.Outcome | None = None,
    mark: ReadMark | None = None,
    history_gaps: list | None = None,
) -> dict:
    """`mark`: the owner's read mark before this visit, where the "New" line goes.
    `history_gaps`: the conversation's, where the view read them with the inbox's."""
    if history_gaps is None:
        history_gaps = queries.history_gaps(request.user, convo)[convo.pk]
    me = _me(request)
    participants = list(convo.participants.all())
    people = {p.x_id: p for p in participants}
    for event in reading.page.events:
        if event.sender is not None:
            people.setdefault(event.sender_x_id, event.sender)
    reactions.show(reading.page.events, {p.x_id: p for p in participants}, me)
    context = {
        "conversation": convo,
        "title": rendering.title(convo, me),
        "others": rendering.others_of(convo, me),
        "faces": rendering.avatar_people(convo, me),
        "blocks": gaps.place(
            rendering.timeline(
                reading.page.events,
                people,
                me,
                group=convo.is_group,
                first_new=read_state.first_unseen(
                    reading.page.events, mark, me, found_oldest=reading.page.found_oldest
                ),
            ),
            history_gaps,
        ),
        "oldest": reading.oldest,
        # What a fetch from X must come before: the oldest shown, or on an empty older page, the
        # event it was older than.
        "fetch_before": reading.oldest or reading.anchor,
        "newest": reading.newest,
        "found_oldest": reading.page.found_oldest,
        "found_newest": reading.page.found_newest,
        "ended": reading.ended,
        "beginning": reading.beginning,
        "newer_only": False,
        "highlight": "",
        "waiting_until": None,
        "fetch_failed": "",
        "group_name_max": store.GROUP_NAME_MAX,
    }
    if outcome is not None and not reading.ended:
        if outcome.status == SyncState.WAITING:
            context["waiting_until"] = outcome.retry_at
        elif outcome.status in (SyncState.FAILED, SyncState.NEEDS_REAUTH):
            context["fetch_failed"] = outcome.error or "X did not answer."
    return context


@require_POST
@_reader
def name_group(request: HttpRequest, x_id: str) -> HttpResponse:
    """Name one of the owner's groups, for them only (the rename form in the thread's header);
    `clear` goes back to the name X's archive gave it, or to its participants'. A refused name
    shows the conversation again with the form open and why."""
    convo = queries.conversation(request.user, _conversation_id(x_id))
    if not convo.is_group:
        raise Http404("Only a group has a name")
    name = "" if request.POST.get("clear") else " ".join(request.POST.get("name", "").split())
    problem = ""
    if not name and not request.POST.get("clear"):
        problem = "Type a name for the group." + (
            " Or press Remove my name to go back to the one it had." if convo.name else ""
        )
    elif len(name) > store.GROUP_NAME_MAX:
        problem = f"That name is {len(name)} characters long; a group name can have up to {store.GROUP_NAME_MAX}."
    if problem:
        reading = queries.read_conversation(request.user, convo)
        context = _conversation_context(request, convo, reading)
        context.update(rename_error=problem, rename_value=request.POST.get("name", ""))
        return _varies_on_htmx(render(request, "conversation.html", context, status=400))
    store.name_group(request.user.pk, convo.x_id, name)
    return redirect("conversations:conversation", convo.x_id)


# Opening a conversation by who it is with ---------------------------------------------------


@require_http_methods(["GET", "POST"])
@_reader
def open_with(request: HttpRequest) -> HttpResponse:
    """The one-to-one with someone, by @username or X user id. A GET only reads: a cached
    conversation is a redirect, anything else a page offering to look on X. The POST (that page's
    button, the inbox's form) asks X: a GET must change nothing, since a link on another site can
    make a browser send one with this site's cookies (SameSite=Lax)."""
    data = request.POST if request.method == "POST" else request.GET
    who = data.get("who", "").strip()
    me = _me(request)
    if not who:
        return _open_with_page(request, who, "")
    username, participant_id = _who(who)
    if username is None and not participant_id:
        problem = f"{who} is not an X @username or user id."
        return _open_with_page(request, who, problem, status=400)
    if username is not None:
        known = queries.x_user_by_username(request.user, username)
        participant_id = known.x_id if known else ""
    if participant_id == me:
        return _open_with_page(request, who, "That is your own account.", status=400)
    found = queries.one_to_one(request.user, me, participant_id) if participant_id else None
    if found is None and request.method == "POST":
        if not participant_id:
            participant_id = sync.find_user_id(request.user.pk, username) or ""
            if not participant_id:
                problem = f"No account called @{username} was found on X."
                return _open_with_page(request, who, problem, status=404)
        if participant_id == me:
            return _open_with_page(request, who, "That is your own account.", status=400)
        outcome = sync.sync_conversation_with(request.user.pk, participant_id, pages=1)
        found = queries.one_to_one(request.user, me, participant_id)
        if found is None:
            problem = outcome.error or f"You have no messages with {who} in the last 30 days."
            return _open_with_page(request, who, problem, status=404)
    if found is None:
        label = f"@{username}" if username is not None else who
        return _open_with_page(request, who, "", ask_x=label)
    url = reverse("conversations:conversation", args=[found.x_id])
    response = HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)
    return _varies_on_htmx(response)


def _who(who: str) -> tuple[str | None, str]:
    """(username, "") for an @username, (None, id) for an X user id, (None, "") for neither.
    Only ASCII digits make an id: "²" or "٤٥" would crash int() or reach X as junk."""
    if xids.is_x_id(who):
        return None, who
    match = _USERNAME.fullmatch(who)
    return (match.group(1), "") if match else (None, "")


def _open_with_page(
    request: HttpRequest, who: str, problem: str, *, status: int = 200, ask_x: str = ""
) -> HttpResponse:
    """The form again, with what went wrong, or (`ask_x`: who to look for) a button to ask X."""
    context = {"who": who, "problem": problem, "ask_x": ask_x}
    return _varies_on_htmx(render(request, "open_with.html", context, status=status))


# Media ------------------------------------------------------------------------------------------


@require_GET
@login_required
def media_file(request: HttpRequest, media_key: str, kind: str) -> HttpResponse:
    """A photo, video or preview of a cached DM, fetched on the server for its owner only."""
    item = queries.media_item(request.user, media_key)
    return media.file_response(item, kind, accounts.account_of(request.user))


@require_GET
@login_required
def avatar(request: HttpRequest, x_id: str) -> HttpResponse:
    if not xids.is_x_id(x_id):
        raise Http404("Not a user id")
    return media.image_or_placeholder(
        queries.x_user(request.user, x_id).profile_image_url, owner_id=request.user.pk
    )


# Search -----------------------------------------------------------------------------------------


@require_GET
@_reader
def search_messages(request: HttpRequest) -> HttpResponse:
    """Full-text search, newest first or best match, paged by keyset for infinite scroll. The
    query lives in the URL, so a search can be shared and back/forward work."""
    raw = request.GET.get("q", "").strip()
    order = "best" if request.GET.get("order") == "best" else "newest"
    within = None
    if request.GET.get("in"):
        within = queries.conversation(request.user, _conversation_id(request.GET["in"]))
    context = {
        "q": raw,
        "order": order,
        "within": within,
        "results": [],
        "cursor": "",
        "problem": "",
    }
    if within is not None:
        context["within_title"] = rendering.title(within, _me(request))
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
            context.update(results=page.results, cursor=page.cursor, order_note=page.note)
    more = request.htmx and request.GET.get("cursor")
    template = "search.html#results" if more else "search.html"
    return _varies_on_htmx(render(request, template, context))
