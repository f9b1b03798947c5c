import hashlib

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString

from conversations import rendering

register = template.Library()


@register.simple_tag
def dm_text(event, posts=None) -> SafeString:
    """The message's text with its links; a shared post's own link is left to its card
    (`posts`: the event's shared posts, if not read from it)."""
    posts = event.shared_posts.all() if posts is None else posts
    return rendering.message_html(event, {p.x_id for p in posts})


@register.filter
def message_body(event) -> SafeString:
    """The message as the reader shows it (templates/reader/message_body.html), as stored."""
    return rendering.message_body(event)


@register.filter
def message_preview(event) -> SafeString:
    """The message's line in the inbox (templates/reader/message_preview.html), as stored."""
    return rendering.message_preview(event)


@register.simple_tag
def system_text(event, participants) -> str:
    """ "@ana added @ben", "@cy left": a join or leave, named from the conversation's people."""
    people = {p.x_id: p for p in participants}
    if event.sender is not None:
        people.setdefault(event.sender_x_id, event.sender)
    return rendering.system_line(event, people)


@register.filter
def preview(event, posts=None) -> str:
    """The inbox's one-line preview; a shared post's own link is left to its "Post" marker
    (`posts`: the event's shared posts, if not read from it)."""
    posts = event.shared_posts.all() if posts is None else posts
    return rendering.preview_text(event, {p.x_id for p in posts})


@register.filter
def post_text(post) -> str:
    """A shared post's text for its card (itself one link): links as X shows them, not raw t.co;
    its photo and video links (url entities with a media_key) left out."""
    return rendering.plain_text(post.text, post.entities)


@register.filter
def ago(moment) -> str:
    return rendering.relative_time(moment)


@register.filter
def since(moment) -> str:
    return rendering.time_since(moment)


@register.filter
def name_of(user, fallback_id: str = "") -> str:
    return rendering.display_name(user, fallback_id)


@register.filter
def handle_of(user, fallback_id: str = "") -> str:
    return rendering.handle(user, fallback_id)


MEDIA_BOX = 420  # px: photos and videos are shown fitted into this square, as on X


@register.filter
def fitted(item) -> tuple[int, int]:
    """Display width and height for a photo or video, known before it loads (no layout shift)."""
    width, height = item.width or MEDIA_BOX, item.height or MEDIA_BOX
    scale = min(1, MEDIA_BOX / width, MEDIA_BOX / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


@register.simple_tag
def account_avatar_url(account) -> str:
    """The signed-in account's picture at a URL of its own: it names the account, and changes
    when the picture does, since browsers keep the answer for a day (views.account_avatar)."""
    version = hashlib.sha256(account.profile_image_url.encode()).hexdigest()[:12]
    return f"{reverse('account_avatar', args=[account.x_user_id])}?v={version}"
