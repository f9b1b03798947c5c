"""Template helpers for media and links: link cards under a message, the gallery's tiles, the
lightbox's data, the place and media of a search result."""

from django import template

from conversations import linkcards, rendering

register = template.Library()


@register.simple_tag
def link_cards(event) -> list[linkcards.LinkCard]:
    return linkcards.cards(event)


@register.filter
def duration(milliseconds) -> str:
    """A video's length as X shows it: "0:07", "12:30", "1:02:03"."""
    if not isinstance(milliseconds, int) or milliseconds <= 0:
        return ""
    minutes, seconds = divmod(round(milliseconds / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


_KINDS = {"photo": "Photo", "video": "Video", "animated_gif": "GIF"}


@register.filter
def media_label(item) -> str:
    """ "Photo", "Video", "GIF": what a piece of media is, in words."""
    return _KINDS.get(item.type, "Media")


@register.simple_tag
def conversation_place(conversation, me: str) -> str:
    """Where a message is, as a search result says it: "in" a group's title, or "with Ana" for a
    one-to-one (the conversation's participants are prefetched)."""
    title = rendering.title(conversation, me)
    return f"in {title}" if conversation.is_group else f"with {title}"
