"""The reader's ways into a conversation beyond scrolling it: its media gallery, a date to jump
to, a photo or video to download, a link card's picture. Thin, as views.py: reads go through
queries.py (owner-scoped: anything not the person's own is 404), files through media.py."""

from datetime import date, datetime, time

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from conversations import linkcards, media, queries, rendering
from conversations.views import _conversation_id, _event_id, _me, _reader, _varies_on_htmx
from dmreader import accounts


@require_GET
@_reader
def gallery(request: HttpRequest, x_id: str) -> HttpResponse:
    """A conversation's photos, videos and GIFs, newest first; ?before=<event id> the next page
    (infinite scroll: an htmx fragment, or the whole page without JavaScript)."""
    convo = queries.conversation(request.user, _conversation_id(x_id))
    before = _event_id(request.GET.get("before", ""))
    anchor = queries.event(request.user, convo, before) if before else None
    page = queries.media_events(request.user, convo, anchor)
    context = {
        "conversation": convo,
        "title": rendering.title(convo, _me(request)),
        "tiles": [(event, item) for event in page.events for item in event.media.all()],
        "more": "" if page.found_oldest else page.events[-1].x_id,
        "first_page": anchor is None,
    }
    if anchor is None:
        context["total"] = queries.media_count(request.user, convo)
    template = "gallery.html#tiles" if anchor is not None and request.htmx else "gallery.html"
    return _varies_on_htmx(render(request, template, context))


@require_GET
@_reader
def jump_to_date(request: HttpRequest, x_id: str) -> HttpResponse:
    """?day=YYYY-MM-DD: the conversation opened at the first message of that day (in the site's
    time zone, as the day separators are drawn), with context both ways, as a search result opens
    (views.conversation's ?around=). A day without messages lands on the next one that has some."""
    convo = queries.conversation(request.user, _conversation_id(x_id))
    here = reverse("conversations:conversation", args=[convo.x_id])
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        messages.warning(request, "Pick a date to jump to.")
        return redirect(here)
    start = timezone.make_aware(datetime.combine(day, time.min))
    found = queries.first_event_from(request.user, convo, start)
    if found is None:
        return redirect(here)
    landed = timezone.localdate(found.created_at)
    if landed != day:
        when = "the newest is from" if landed < day else "the next ones are from"
        messages.info(request, f"No messages on {_day(day)}: {when} {_day(landed)}.")
    return redirect(f"{here}?around={found.x_id}#e{found.x_id}")


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@require_GET
@_reader
def media_download(request: HttpRequest, media_key: str) -> HttpResponse:
    """The original photo, or a video's or GIF's MP4, as a file to save: its owner's only."""
    item = queries.media_item(request.user, media_key)
    return media.download_response(item, accounts.account_of(request.user))


@require_GET
@_reader
def link_image(request: HttpRequest, event_id: str, index: int) -> HttpResponse:
    """The picture of a link card: url entity `index` of the owner's event `event_id`. It names the
    event, never a URL, so it fetches only what X sent the owner (and only from X's hosts)."""
    event = queries.message(request.user, _event_id(event_id))
    if not linkcards.image_source(event, index):
        raise Http404("No picture for this link")
    return media.link_image(linkcards.image_source(event, index), owner_id=request.user.pk)
