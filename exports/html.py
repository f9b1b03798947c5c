"""The HTML export: pages that open from a folder or the unzipped file with no server and run no
script, looking like the reader (its markup, its rendering of text, its stylesheet's rules).

Members are produced one at a time, each a name and its bytes as an iterator, for a ZIP written
as it goes (files.zip_chunks) or a folder (files.write_folder):

    <root>/index.html                 every conversation of the export, with links to its pages
    <root>/c/<conversation id>/<n>.html   PAGE_SIZE events a page, oldest first, linked both ways
    <root>/media/<media key>.<ext>    photos, videos, GIFs and video posters
    <root>/avatars/<user id>.<ext>    profile images
    <root>/export.css, avatar.svg

Media and avatars are fetched through the reader's own media proxy (allow-listed hosts, its disk
cache), before the page that shows them. What can't be fetched shows as a line of text instead.
Each page carries a Content-Security-Policy that allows no script at all, and everything X sent is
escaped by Django's templates and rendering.message_html.
"""

import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from conversations import media, rendering
from conversations.models import Conversation, DmEvent, Media, XUser
from exports.writers import Job, utc

PAGE_SIZE = 2000
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
}


@dataclass
class Member:
    """One file of the export."""

    name: str
    chunks: Iterable[bytes]
    compress: bool = True  # photos and videos are compressed already


def _release(response: HttpResponse) -> None:
    # Not response.close(): that signals the end of a request, which closes the database
    # connection the export is still reading from. Only the proxy's open cache file needs closing.
    file = getattr(response, "file_to_stream", None)
    if file is not None:
        file.close()


def _closing(response: HttpResponse) -> Iterator[bytes]:
    try:
        yield from response.streaming_content
    finally:
        _release(response)


class Files:
    """The media and avatars already in the export, by key: each is copied once."""

    def __init__(self, job: Job):
        self.job = job
        self.media: dict[tuple[str, str], str] = {}  # (media key, kind) -> path in the export
        self.avatars: dict[str, str] = {}  # X user id -> path in the export

    def _copy(self, response: HttpResponse, name: str) -> tuple[str, Member] | None:
        if response.status_code != 200 or not hasattr(response, "streaming_content"):
            _release(response)
            return None
        content_type = response["Content-Type"].split(";")[0].strip().lower()
        extension = _EXTENSIONS.get(content_type)
        if extension is None:  # not something a page can show
            _release(response)
            return None
        path = f"{name}.{extension}"
        return path, Member(path, _closing(response), compress=False)

    def media_item(self, item: Media, kind: str) -> Iterator[Member]:
        key = (item.media_key, kind)
        if key in self.media or not self.job.with_media:
            return
        self.media[key] = ""
        response = media.file_response(item, kind, self.job.account)
        suffix = "" if kind in ("full", "video") else f"-{kind}"
        copied = self._copy(response, f"media/{_SAFE_NAME.sub('_', item.media_key)}{suffix}")
        if copied is not None:
            self.media[key], member = copied
            yield member

    def avatar(self, user: XUser | None) -> Iterator[Member]:
        if user is None or user.x_id in self.avatars or not self.job.with_media:
            return
        self.avatars[user.x_id] = ""
        if not user.profile_image_url:
            return
        response = media.proxy(
            user.profile_image_url, owner_id=self.job.owner.pk, max_bytes=media.MAX_AVATAR_BYTES
        )
        copied = self._copy(response, f"avatars/{user.x_id}")
        if copied is not None:
            self.avatars[user.x_id], member = copied
            yield member

    def avatar_of(self, x_id: str, prefix: str) -> str:
        found = self.avatars.get(x_id, "")
        return prefix + (found or "avatar.svg")


def _static(path: str) -> bytes:
    with open(finders.find(path), "rb") as file:
        return file.read()


def members(job: Job, root: str) -> Iterator[Member]:
    """Every file of the export, under `root/`."""
    files = Files(job)
    yield Member(f"{root}/export.css", [_static("css/export.css")])
    yield Member(f"{root}/avatar.svg", [_static("img/avatar.svg")])
    entries = []
    for conversation, count in job.selection.conversations:
        participants = list(conversation.participants.all())
        others = rendering.others_of(conversation, job.me)
        for person in rendering.avatar_people(conversation, job.me):
            for member in files.avatar(person):
                yield Member(f"{root}/{member.name}", member.chunks, member.compress)
        pages = max(1, math.ceil(count / PAGE_SIZE))
        entries.append(
            {
                "conversation": conversation,
                "title": rendering.title(conversation, job.me),
                "others": others,
                "avatars": [
                    files.avatar_of(p.x_id, "")
                    for p in rendering.avatar_people(conversation, job.me)
                ],
                "count": count,
                "pages": pages,
                "page_numbers": range(1, pages + 1),
            }
        )
        for member in _conversation_pages(job, files, conversation, participants, pages):
            yield Member(f"{root}/{member.name}", member.chunks, member.compress)
    index = render_to_string(
        "exports/offline/index.html",
        {
            "account": job.account,
            "generated_at": job.generated_at,
            "generated_utc": utc(job.generated_at),
            "scope": job.selection.scope,
            "entries": entries,
            "total": job.selection.total,
            "time_zone": timezone.get_current_timezone_name(),
        },
    )
    yield Member(f"{root}/index.html", [index.encode()])


def _pages_of(job: Job, conversation: Conversation) -> Iterator[list[DmEvent]]:
    """The conversation's events in scope, PAGE_SIZE at a time (batches are read by keyset)."""
    pending: list[DmEvent] = []
    for rows in job.batches_of(conversation):
        pending.extend(rows)
        while len(pending) >= PAGE_SIZE:
            yield pending[:PAGE_SIZE]
            pending = pending[PAGE_SIZE:]
    if pending:
        yield pending


def _conversation_pages(
    job: Job, files: Files, conversation: Conversation, participants: list[XUser], pages: int
) -> Iterator[Member]:
    title = rendering.title(conversation, job.me)
    others = rendering.others_of(conversation, job.me)
    people = {p.x_id: p for p in participants}
    folder = f"c/{conversation.x_id}"
    for number, events in enumerate(_pages_of(job, conversation), start=1):
        for event in events:
            if event.sender is not None:
                people.setdefault(event.sender_x_id, event.sender)
                yield from files.avatar(event.sender)
            for item in event.media.all():
                if item.type == Media.PHOTO:
                    yield from files.media_item(item, "full")
                else:
                    yield from files.media_item(item, "video")
                    yield from files.media_item(item, "preview")
            for post in event.shared_posts.all():
                yield from files.avatar(post.author)
        blocks = _timeline(events, people, job.me)
        _attach_paths(blocks, files, prefix="../../")
        page = render_to_string(
            "exports/offline/page.html",
            {
                "conversation": conversation,
                "title": title,
                "others": others,
                "avatars": [
                    files.avatar_of(p.x_id, "../../")
                    for p in rendering.avatar_people(conversation, job.me)
                ],
                "blocks": blocks,
                "me": job.me,
                "number": number,
                "pages": pages,
                "first": events[0],
                "last": events[-1],
                "time_zone": timezone.get_current_timezone_name(),
            },
        )
        yield Member(f"{folder}/{number}.html", [page.encode()])


def _timeline(events: list[DmEvent], people: dict, me: str) -> list[rendering.Block]:
    """The reader's timeline, with dates that stay true: "Today" is only today in the reader."""
    blocks = rendering.timeline(events, people, me)
    for block, following in itertools.pairwise(blocks):
        if block.kind == "day" and following.events:
            local = timezone.localtime(following.events[0].created_at)
            block.label = f"{local:%A}, {local.day} {local:%B %Y}"
    return blocks


def _attach_paths(blocks: list[rendering.Block], files: Files, prefix: str) -> None:
    """Where each avatar and media file is in the export, for the template ("" when missing)."""
    for block in blocks:
        block.avatar = files.avatar_of(block.sender_x_id, prefix)
        for event in block.events:
            for item in event.media.all():
                main = files.media.get(
                    (item.media_key, "full" if item.type == "photo" else "video")
                )
                poster = files.media.get((item.media_key, "preview"))
                item.export_src = prefix + main if main else ""
                item.export_poster = prefix + poster if poster else ""
            for post in event.shared_posts.all():
                post.export_avatar = files.avatar_of(post.author_x_id, prefix)
