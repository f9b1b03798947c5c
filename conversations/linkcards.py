"""Link cards: what X says of a page linked in a message. A url entity may carry the page's
`title`, `description` and `images` (X fetched them when the message was sent; docs/x-api.md §3.2);
a message shows a card under its text for each link that has a title, as X's own clients do.

Everything in a card is the linked page's own words, so it is untrusted text: templates escape it,
and its picture is never loaded from where the entity points but through our owner-checked media
proxy (views.link_image), which fetches X's hosts only.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from conversations.models import DmEvent
from conversations.rendering import POST_URL, safe_url, shorten

TITLE_MAX, DESCRIPTION_MAX = 200, 300


@dataclass(frozen=True)
class LinkCard:
    href: str
    title: str
    description: str
    site: str  # the host the link leads to, as a card names it
    image: int | None  # the url entity's index, for views.link_image; None: no picture


def _urls(event: DmEvent) -> list:
    entities = event.entities if isinstance(event.entities, dict) else {}
    urls = entities.get("urls")
    return urls if isinstance(urls, list) else []


def cards(event: DmEvent) -> list[LinkCard]:
    """One card per link with a title, in the message's order; none for the links X adds for an
    attachment or a shared post (their own cards show those)."""
    found = []
    for index, entity in enumerate(_urls(event)):
        if not isinstance(entity, dict) or entity.get("media_key"):
            continue
        href = safe_url(entity.get("unwound_url")) or safe_url(entity.get("expanded_url"))
        title = entity.get("title")
        if not href or POST_URL.match(href) or not isinstance(title, str) or not title.strip():
            continue
        description = entity.get("description")
        description = description if isinstance(description, str) else ""
        host = urlsplit(href).hostname or ""
        found.append(
            LinkCard(
                href=href,
                title=shorten(title, TITLE_MAX),
                description=shorten(description, DESCRIPTION_MAX),
                site=host.removeprefix("www."),
                image=index if image_source(event, index) else None,
            )
        )
    return found


def image_source(event: DmEvent, index: int) -> str:
    """The URL of the picture of the card for url entity `index` ("" if none): the first of
    `images`, X's largest."""
    urls = _urls(event)
    if not 0 <= index < len(urls) or not isinstance(urls[index], dict):
        return ""
    images = urls[index].get("images")
    if not isinstance(images, list) or not images or not isinstance(images[0], dict):
        return ""
    url = images[0].get("url")
    return url if isinstance(url, str) else ""
