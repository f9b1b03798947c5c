"""Reactions under a message, as X's archive records them (`reactions` on a messageCreate:
`senderId`, `reactionKey`, `eventId`, `createdAt`). X's API v2 DM events carry no reactions, so
the archive is their only source: importing.py keeps its object in the event's raw["archive"]
(and store.py adds it to a row a sync cached first).

`reactionKey` is a word in the archives we know (timhutton/twitter-archive-parser lists like,
funny, surprised, sad, agree, disagree, hot, excited, mind_blown); an emoji is taken as it is,
and a word we don't know is shown as the word, so nothing a person reacted is dropped."""

from dataclasses import dataclass

from conversations import rendering
from conversations.models import DmEvent, XUser

EMOJI = {
    "like": "❤️",
    "funny": "😂",
    "surprised": "😲",
    "sad": "😢",
    "agree": "👍",
    "disagree": "👎",
    "hot": "🔥",
    "excited": "🎉",
    "mind_blown": "🤯",
}
# X's words as a sentence says them: "Ana reacted with a laugh".
WORDS = {
    "like": "a heart",
    "funny": "a laugh",
    "surprised": "surprise",
    "sad": "sadness",
    "agree": "a thumbs up",
    "disagree": "a thumbs down",
    "hot": "fire",
    "excited": "a party popper",
    "mind_blown": "a mind blown",
}
MAX_KEY = 40


@dataclass(frozen=True)
class Reaction:
    """One emoji under a message: how many reacted with it, and who (names, "You" first)."""

    key: str
    emoji: str
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def label(self) -> str:
        """For screen readers and the tooltip: "Ana and you reacted with a heart"."""
        names = list(self.names)
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{who[:1].upper()}{who[1:]} reacted with {WORDS.get(self.key, self.emoji)}"


def raw_reactions(event: DmEvent) -> list[dict]:
    """The reactions an imported archive gave the message. A reader's page reads them alone from
    the row (`archived_reactions`: queries._page_of), not the whole payload."""
    if hasattr(event, "archived_reactions"):
        found = event.archived_reactions
    else:
        archived = event.raw.get("archive") if isinstance(event.raw, dict) else None
        body = archived.get("messageCreate") if isinstance(archived, dict) else None
        found = body.get("reactions") if isinstance(body, dict) else None
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def show(events: list[DmEvent], people: dict[str, XUser], me: str) -> None:
    """Each event's reactions for a reader's page, as `reactions_shown` (empty for most)."""
    for event in events:
        event.reactions_shown = reactions_of(event, people, me) if raw_reactions(event) else []


def reactions_of(event: DmEvent, people: dict[str, XUser], me: str) -> list[Reaction]:
    """The message's reactions grouped by emoji, in the order each was first given; one person's
    same reaction counted once."""
    by_key: dict[str, list[str]] = {}
    for item in sorted(raw_reactions(event), key=lambda r: str(r.get("createdAt") or "")):
        key, sender = item.get("reactionKey"), item.get("senderId")
        if not isinstance(key, str) or not key.strip() or not isinstance(sender, str):
            continue
        senders = by_key.setdefault(key.strip()[:MAX_KEY], [])
        if sender not in senders:
            senders.append(sender)
    found = []
    for key, senders in by_key.items():
        names = sorted(
            ("you" if s == me else rendering.display_name(people.get(s), s) for s in senders),
            key=lambda name: name != "you",
        )
        found.append(Reaction(key, _emoji(key), tuple(names)))
    return found


def _emoji(key: str) -> str:
    if key in EMOJI:
        return EMOJI[key]
    return key if not key.isascii() else key.replace("_", " ")
