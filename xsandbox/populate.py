"""Seeding the sandbox's database: the base world (xsandbox/seed.py) and, when asked, a crowd of
more accounts built on it (xsandbox/crowd.py), written in bulk in one transaction."""

from datetime import UTC, datetime

from django.db import transaction

from xsandbox import clock, ids, seed
from xsandbox import crowd as crowd_of
from xsandbox.models import Conversation, Event, Media, SandboxState, Tweet, User


@transaction.atomic
def seed_world(anchor: datetime | None = None, *, crowd: int = 0) -> dict[str, int]:
    """Create the world anchored at `anchor` (default: the sandbox clock's now) in an empty database,
    with `crowd` more accounts that can sign in and chat among themselves (xsandbox/crowd.py)."""
    anchor = anchor or clock.now()
    anchor = ids.from_ms(ids.to_ms(anchor.astimezone(UTC)))  # whole milliseconds, like X's ids
    world = seed.build_world(anchor)
    conversations, events, media = seed.mint_events(world)
    members = [
        (plan.conversation_id, world.user_ids[u]) for plan in world.plans for u in plan.members
    ]
    if crowd:
        extra = crowd_of.build_crowd(
            world, crowd, used_event_ms={ids.to_ms(e.created_at) for e in events}
        )
        conversations += extra.conversations
        events += extra.events
        media += extra.media
        members += extra.members
    User.objects.bulk_create(world.users.values(), batch_size=500)
    Tweet.objects.bulk_create(world.posts)
    Conversation.objects.bulk_create(conversations, batch_size=500)
    Through = Conversation.participants.through
    Through.objects.bulk_create(
        (Through(conversation_id=c, user_id=u) for c, u in members), batch_size=500
    )
    Event.objects.bulk_create(events, batch_size=500)
    Media.objects.bulk_create(media, batch_size=500)
    SandboxState.objects.update_or_create(pk=1, defaults={"seeded_at": anchor})
    return {
        "users": len(world.users),
        "conversations": len(conversations),
        "events": len(events),
        "media": len(media),
        "tweets": len(world.posts),
    }
