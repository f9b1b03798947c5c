"""The reader's two long lists, a thread's items and the inbox's rows (conversations/markup.py).
Apart from dm.py, whose source is part of every stored body's version (rendering.body_version):
these are not in a body, and changing them must not render every cached message again."""

from django import template
from django.utils.safestring import SafeString

from conversations import markup

register = template.Library()


@register.simple_tag
def thread_items(blocks, highlight: str = "") -> SafeString:
    return markup.thread_items(blocks, highlight)


@register.simple_tag
def inbox_items(rows, open_id: str, own_avatar: str) -> SafeString:
    return markup.inbox_items(rows, open_id, own_avatar)
