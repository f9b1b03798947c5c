"""The reactions under a message (conversations/reactions.py)."""

from django import template

from conversations import reactions

register = template.Library()


@register.simple_tag
def message_reactions(event, participants, me: str) -> list[reactions.Reaction]:
    """`participants`: the conversation's people (prefetched), who reacted is named from them."""
    if not reactions.raw_reactions(event):
        return []
    people = {p.x_id: p for p in participants}
    return reactions.reactions_of(event, people, me)
