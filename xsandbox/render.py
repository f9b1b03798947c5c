"""DM events and their includes as X renders them (docs/x-api.md §3 and §4), and the ground truth a
full sync should reproduce.

Renderers take the fields a request asked for and emit only those that apply to the object and have
a value, the way X leaves absent what it does not have. Ids are always strings. URLs are absolute,
built on `base_url` (the sandbox's own scheme and host, ending in "/").
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Max

from xsandbox import clock, errors, media_views
from xsandbox.models import Event, Media, Tweet, User
from xsandbox.params import EVERYTHING, TWEET_NAMES, DmQuery, Names, UserQuery

# The arrays of DmEvent.entities, v2.167's nesting (docs/x-api.md §3.2: v2.166 puts them at the top level
# of the event, yet the field you ask for is `entities`).
ENTITY_KINDS = ("urls", "mentions", "hashtags", "cashtags")
# Required members of User.public_metrics and Tweet.public_metrics in spec v2.166, in the classic names;
# Names.user_post_counts and Names.reposts give the post vocabulary's (v2.167 requires those).
USER_METRICS = {"followers_count": 0, "following_count": 0, "tweet_count": 0, "listed_count": 0}
TWEET_METRICS = {
    "retweet_count": 0,
    "reply_count": 0,
    "like_count": 0,
    "quote_count": 0,
    "impression_count": 0,
    "bookmark_count": 0,
}
EDIT_WINDOW = timedelta(hours=1)
EDITS_ALLOWED = 5


def timestamp(moment: datetime) -> str:
    # X shows DM and post times to the second with ".000" milliseconds (every recorded body, §3.4).
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _present(values: dict, wanted: frozenset[str]) -> dict:
    return {name: value for name, value in values.items() if name in wanted and value is not None}


# Events ---------------------------------------------------------------------------------------------


def implied_event_fields(expansions: frozenset[str]) -> frozenset[str]:
    """An expansion puts its id field on the event even if dm_event.fields did not ask for it: under
    v2.167's names sender_id, participant_ids and referenced_posts exist only as expansions (§9.1)."""
    by_expansion = {
        "sender_id": "sender_id",
        "participant_ids": "participant_ids",
        "attachments.media_keys": "attachments",
        "referenced_tweets.id": "referenced_tweets",
    }
    return frozenset(by_expansion[name] for name in expansions if name in by_expansion)


def has_sender(event: Event) -> bool:
    """MessageCreate has its author, ParticipantsJoin who added them; Leave has none (§3.4, §9.5)."""
    return bool(event.sender_id) and event.event_type != Event.PARTICIPANTS_LEAVE


def event_object(
    event: Event, fields: frozenset[str], names: Names = TWEET_NAMES, *, base_url: str
) -> dict:
    """Default fields per type, then requested fields only where they apply (docs/x-api.md §3.3)."""
    message = event.event_type == Event.MESSAGE_CREATE
    data = {"id": str(event.id), "event_type": event.event_type}
    if message:
        data["text"] = event.text
    else:
        data["participant_ids"] = [str(pid) for pid in event.participant_ids]
    optional = {
        "dm_conversation_id": event.conversation_id,
        "created_at": timestamp(event.created_at),
        "sender_id": str(event.sender_id) if has_sender(event) else None,
    }
    if message:
        optional |= {
            "attachments": {"media_keys": list(event.media_keys)} if event.media_keys else None,
            "referenced_tweets": [{"id": str(tid)} for tid in event.referenced_tweet_ids] or None,
            "entities": _event_entities(event, base_url),
        }
    present = _present(optional, fields)
    if "referenced_tweets" in present:
        present[names.referenced] = present.pop("referenced_tweets")
    return data | present


def _event_entities(event: Event, base_url: str) -> dict | None:
    entities = {k: event.entities[k] for k in ENTITY_KINDS if event.entities.get(k)}
    return with_card_images(entities, base_url) or None


def with_card_images(entities: dict, base_url: str) -> dict:
    """`entities` with the pictures of link cards made absolute: they are stored as paths on the
    sandbox (texts.card_images), which stands in for pbs.twimg.com."""
    if not entities.get("urls"):
        return entities
    urls = [
        url | {"images": [i | {"url": base_url + i["url"][1:]} for i in url["images"]]}
        if url.get("images")
        else url
        for url in entities["urls"]
    ]
    return entities | {"urls": urls}


# Users, media, posts --------------------------------------------------------------------------------


def profile_image_url(user: User, base_url: str) -> str:
    return f"{base_url}profile_images/{user.id}/{user.username}_normal.jpg"


def user_object(
    user: User,
    fields: frozenset[str],
    base_url: str,
    names: Names = TWEET_NAMES,
    latest_post: int | None = None,
) -> dict:
    """Default fields id, name, username; then each requested field the account has. The sandbox
    models no follows, subscriptions, pinned posts, affiliations, banners, withholding or e-mail
    addresses, so those read as X shows an account without them: false, "None", [] or absent.
    `latest_post` is the id of their newest post (most_recent_tweet_id), looked up by the caller
    for every user of a response at once (latest_posts)."""
    metrics = USER_METRICS | user.public_metrics
    posts = metrics.pop("tweet_count")
    optional = {
        "created_at": timestamp(user.created_at),
        "description": user.description,
        "entities": _user_entities(user),
        "location": user.location or None,
        "url": user.url,
        "protected": user.protected,
        "verified": user.verified,
        "verified_type": user.verified_type,
        "verified_followers_count": 0,
        "is_identity_verified": False,
        "parody": False,
        "public_metrics": metrics | dict.fromkeys(names.user_post_counts, posts),
        "profile_image_url": profile_image_url(user, base_url),
        "connection_status": [],
        "receives_your_dm": True,
        "subscribes_to_you": False,
        "subscription": {"subscribes_to_you": False},
        "subscription_type": "None",
        "most_recent_tweet_id": str(latest_post) if latest_post else None,
    }
    present = _present(optional, fields)
    if "most_recent_tweet_id" in present:
        present[names.most_recent] = present.pop("most_recent_tweet_id")
    return {"id": str(user.id), "name": user.name, "username": user.username} | present


def latest_posts(user_ids: set[int]) -> dict[int, int]:
    """Each user's newest post that still exists, by user id: one query for all of them."""
    rows = (
        Tweet.objects.filter(author__in=user_ids, deleted=False)
        .values("author")
        .annotate(newest=Max("id"))
    )
    return {row["author"]: row["newest"] for row in rows}


# What a profile's description links, in X's entity shapes (start inclusive, end exclusive, code points).
_DESCRIPTION_ENTITIES = (
    ("urls", re.compile(r"https?://\S+"), lambda m: _url_entity(m.group())),
    ("mentions", re.compile(r"(?<!\w)@(\w{1,15})"), lambda m: {"username": m.group(1)}),
    ("hashtags", re.compile(r"(?<!\w)#(\w+)"), lambda m: {"tag": m.group(1)}),
    ("cashtags", re.compile(r"(?<!\w)\$([A-Za-z]{1,6})\b"), lambda m: {"tag": m.group(1)}),
)


def _user_entities(user: User) -> dict | None:
    entities = {}
    if user.url:
        entities["url"] = {"urls": [{"start": 0, "end": len(user.url)} | _url_entity(user.url)]}
    description = {}
    for kind, pattern, entity in _DESCRIPTION_ENTITIES:
        found = [
            {"start": m.start(), "end": m.end()} | entity(m)
            for m in pattern.finditer(user.description)
        ]
        if found:
            description[kind] = found
    if description:
        entities["description"] = description
    return entities or None


def _url_entity(url: str) -> dict:
    return {"url": url, "expanded_url": url, "display_url": re.sub(r"^https?://", "", url)}


def media_object(media: Media, fields: frozenset[str], base_url: str) -> dict:
    """Default fields media_key and type (docs/x-api.md §4). URLs point at the sandbox's stand-ins for
    ton.twitter.com and video.twimg.com, whose shapes xsandbox.media_views owns. The non-public,
    organic and promoted metrics are left out: X gives them only to the media's owner."""
    optional = {"width": media.width, "height": media.height, "alt_text": media.alt_text or None}
    if media.type == Media.PHOTO:
        optional["url"] = base_url + media_views.photo_path(media)[1:]
    else:
        optional["preview_image_url"] = base_url + media_views.preview_path(media)[1:]
        optional["variants"] = [_variant(v, base_url) for v in media.variants]
    if media.type == Media.VIDEO:
        optional["duration_ms"] = media.duration_ms
        optional["public_metrics"] = media.public_metrics or None
    return {"media_key": media.media_key, "type": media.type} | _present(optional, fields)


def _variant(variant: dict, base_url: str) -> dict:
    # Playlists have no bit rate; v2.167 documents the member as absent for them.
    rendered = {"content_type": variant["content_type"], "url": base_url + variant["path"][1:]}
    if variant.get("bit_rate") is not None:
        rendered["bit_rate"] = variant["bit_rate"]
    return rendered


def tweet_object(
    tweet: Tweet, fields: frozenset[str], names: Names = TWEET_NAMES, *, base_url: str
) -> dict:
    """Default fields id, text, edit_history_tweet_ids (or _post_ids, §9.1); then each requested
    field the post has. Its non-public, organic and promoted metrics are its author's only."""
    metrics = TWEET_METRICS | tweet.public_metrics
    metrics[names.reposts] = metrics.pop("retweet_count")
    optional = {
        "author_id": str(tweet.author_id),
        "created_at": timestamp(tweet.created_at),
        "conversation_id": str(tweet.conversation_id),
        "display_text_range": [0, len(tweet.text)],
        "in_reply_to_user_id": (
            str(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id is not None else None
        ),
        "lang": tweet.lang,
        "entities": with_card_images(tweet.entities, base_url) or None,
        "referenced_tweets": tweet.referenced_tweets or None,
        "public_metrics": metrics,
        "possibly_sensitive": tweet.possibly_sensitive,
        "reply_settings": "everyone",
        "edit_controls": {
            "edits_remaining": EDITS_ALLOWED,
            "is_edit_eligible": True,
            "editable_until": timestamp(tweet.created_at + EDIT_WINDOW),
        },
    }
    present = _present(optional, fields)
    if "referenced_tweets" in present:
        present[names.referenced] = present.pop("referenced_tweets")
    data = {"id": str(tweet.id), "text": tweet.text, names.edit_history: [str(tweet.id)]}
    return data | present


# Expansions -----------------------------------------------------------------------------------------


def expand(events: list[Event], query: DmQuery, base_url: str) -> tuple[dict, list[dict]]:
    """`includes` for the expansions asked for, and the partial `errors` for what cannot be shown:
    a gone account or a deleted post is absent from includes and reported instead (docs/x-api.md
    §5.2). One query per kind of object, whatever the number of events, and one more for the
    users' newest posts when most_recent_tweet_id is asked for."""
    wanted, names = query.expansions, query.names
    user_refs = _user_refs(events, wanted)
    latest = {}
    if user_refs and "most_recent_tweet_id" in query.user_fields:
        latest = latest_posts({ref for _, ref in user_refs})

    def render_user(user: User) -> dict | None:
        if user.gone:
            return None
        return user_object(user, query.user_fields, base_url, names, latest.get(user.id))

    users, missing_users = _hydrate(user_refs, User, "user", render_user, names)
    media, missing_media = _hydrate(
        _media_refs(events, wanted),
        Media,
        "media",
        lambda media: media_object(media, query.media_fields, base_url),
        names,
    )
    tweets, missing_tweets = _hydrate(
        _tweet_refs(events, wanted, names),
        Tweet,
        "tweet",
        lambda tweet: (
            None
            if tweet.deleted
            else tweet_object(tweet, query.tweet_fields, names, base_url=base_url)
        ),
        names,
    )
    includes = {"users": users, "media": media, names.includes: tweets}
    return (
        {key: objects for key, objects in includes.items() if objects},
        missing_users + missing_media + missing_tweets,
    )


Ref = tuple[str, int | str]  # (the parameter that references it, its id or media key)


def _user_refs(events: list[Event], wanted: frozenset[str]) -> list[Ref]:
    refs: list[Ref] = []
    for event in events:
        if "sender_id" in wanted and has_sender(event):
            refs.append(("sender_id", event.sender_id))
        if "participant_ids" in wanted and event.event_type != Event.MESSAGE_CREATE:
            refs += [("participant_ids", int(pid)) for pid in event.participant_ids]
    return refs


def _media_refs(events: list[Event], wanted: frozenset[str]) -> list[Ref]:
    if "attachments.media_keys" not in wanted:
        return []
    messages = (e for e in events if e.event_type == Event.MESSAGE_CREATE)
    return [("attachments.media_keys", key) for e in messages for key in e.media_keys]


def _tweet_refs(events: list[Event], wanted: frozenset[str], names: Names) -> list[Ref]:
    if "referenced_tweets.id" not in wanted:
        return []
    messages = (e for e in events if e.event_type == Event.MESSAGE_CREATE)
    return [(names.expansion, int(tid)) for e in messages for tid in e.referenced_tweet_ids]


def _hydrate(
    refs: list[Ref],
    model: type,
    resource_type: str,
    render: Callable[[Any], dict | None],
    names: Names,
) -> tuple[list[dict], list[dict]]:
    """The referenced objects, each once per response in order of first reference, and a
    resource-not-found problem for each one missing or not rendered (render gave None), once per
    parameter that referenced it."""
    found = model.objects.in_bulk({ref for _, ref in refs}) if refs else {}
    objects, problems, shown, reported = [], [], set(), set()
    for parameter, ref in refs:
        if ref in shown or (parameter, ref) in reported:
            continue
        rendered = render(found[ref]) if ref in found else None
        if rendered is None:
            reported.add((parameter, ref))
            problems.append(errors.not_found(parameter, str(ref), resource_type, names.problems))
        else:
            shown.add(ref)
            objects.append(rendered)
    return objects, problems


# Response bodies ------------------------------------------------------------------------------------


def events_body(events: list[Event], query: DmQuery, base_url: str, meta: dict) -> dict:
    """A list response: `data` only when there are events (minItems 1), `meta` always (§3.1)."""
    body = _with_includes({}, events, query, base_url)
    if events:
        fields = query.event_fields | implied_event_fields(query.expansions)
        body = {
            "data": [event_object(e, fields, query.names, base_url=base_url) for e in events]
        } | body
    return body | {"meta": meta}


def event_body(event: Event, query: DmQuery, base_url: str) -> dict:
    """GET /2/dm_events/{event_id}: `data` is the one event and there is no `meta` (§2.2)."""
    fields = query.event_fields | implied_event_fields(query.expansions)
    body = {"data": event_object(event, fields, query.names, base_url=base_url)}
    return _with_includes(body, [event], query, base_url)


def _with_includes(body: dict, events: list[Event], query: DmQuery, base_url: str) -> dict:
    includes, problems = expand(events, query, base_url)
    if includes:
        body["includes"] = includes
    if problems:
        body["errors"] = problems
    return body


def user_body(user: User, query: UserQuery, base_url: str) -> dict:
    """A user lookup. Of the user expansions only most_recent_tweet_id (most_recent_post_id) has
    anything to show: the sandbox models no pinned posts and no affiliations. Like the DM
    expansions, it puts its id on the user even when user.fields did not ask for it."""
    fields = query.user_fields
    latest = None
    if {"most_recent_tweet_id"} & (fields | query.expansions):
        latest = latest_posts({user.id}).get(user.id)
    if "most_recent_tweet_id" in query.expansions:
        fields |= {"most_recent_tweet_id"}
    body = {"data": user_object(user, fields, base_url, query.names, latest)}
    if latest and "most_recent_tweet_id" in query.expansions:
        post = Tweet.objects.get(id=latest)
        body["includes"] = {
            query.names.includes: [
                tweet_object(post, query.tweet_fields, query.names, base_url=base_url)
            ]
        }
    return body


# Ground truth -------------------------------------------------------------------------------------


def ground_truth(user: User, base_url: str = "/") -> dict:
    """What a complete sync of `user` should have cached: every conversation they are in, every
    event in them up to now (not only the last 30 days: that is the sync's history, built up over
    time), rendered with every field, and every user, media and post those events reference.
    Users a sync can learn of are the user and those reachable through the sender_id and
    participant_ids expansions; gone accounts are listed with "gone": true (the API never shows them)
    and deleted posts with "deleted": true. Pass `base_url` (the sandbox's "scheme://host/") to get
    the same absolute URLs as the API; the default gives root-relative ones."""
    conversations = user.conversations.prefetch_related("participants").order_by("id")
    events = list(
        Event.objects.filter(conversation__participants=user, created_at__lte=clock.now()).order_by(
            "-id"
        )
    )
    user_ids = {user.id} | {e.sender_id for e in events if has_sender(e)}
    user_ids |= {int(pid) for e in events for pid in e.participant_ids}
    tweet_ids = {int(tid) for e in events for tid in e.referenced_tweet_ids}
    users = User.objects.filter(id__in=user_ids).order_by("id")
    tweets = Tweet.objects.filter(id__in=tweet_ids).order_by("id")
    media = Media.objects.filter(media_key__in={k for e in events for k in e.media_keys})
    all_user_fields, latest = EVERYTHING.user_fields, latest_posts(user_ids)
    return {
        "conversations": [
            {
                "id": c.id,
                "is_group": c.is_group,
                "participant_ids": sorted((str(p.id) for p in c.participants.all()), key=int),
            }
            for c in conversations
        ],
        "events": [event_object(e, EVERYTHING.event_fields, base_url=base_url) for e in events],
        "users": [
            user_object(u, all_user_fields, base_url, latest_post=latest.get(u.id))
            | {"gone": u.gone}
            for u in users
        ],
        "media": [media_object(m, EVERYTHING.media_fields, base_url) for m in media.order_by("pk")],
        "tweets": [
            tweet_object(t, EVERYTHING.tweet_fields, base_url=base_url) | {"deleted": t.deleted}
            for t in tweets
        ],
    }
