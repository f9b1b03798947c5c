"""X's id rules, in one place (docs/x-api.md §3.3).

X's ids (users, events, posts, group conversations) are strings of ASCII digits, at most 19 long.
They are kept as given and compared as numbers where order matters: `sort_id` left-pads them so
that string order is numeric order. A one-to-one conversation's id is the two participants' ids
joined by "-", smaller number first; a group's id is the id of the event that created it minus 4.
"""

import re

ID_DIGITS = 19

# ASCII only: str.isdigit() also accepts "²", "₀" and Arabic-Indic digits, which X never sends.
_X_ID = re.compile(r"[0-9]{1,19}")
_CONVERSATION_ID = re.compile(r"[0-9]{1,19}(?:-[0-9]{1,19})?")


def is_x_id(value: object) -> bool:
    """A user, event, post or group id as X writes it."""
    return isinstance(value, str) and _X_ID.fullmatch(value) is not None


def x_id_or_empty(value: object) -> str:
    return value if is_x_id(value) else ""


def is_conversation_id(value: object) -> bool:
    """A group id or a one-to-one's "{smaller}-{larger}"."""
    return isinstance(value, str) and _CONVERSATION_ID.fullmatch(value) is not None


def sort_id(x_id: str) -> str:
    """The id padded to 19 digits, so string order is numeric order (for indexes and cursors)."""
    return x_id.zfill(ID_DIGITS)


def one_to_one_id(a: str, b: str) -> str:
    """The one-to-one conversation between two users: "{smaller}-{larger}" by number."""
    return "-".join(sorted([a, b], key=int))


def one_to_one_members(conversation_id: str) -> list[str]:
    """The two user ids of a one-to-one conversation's id; none for a group."""
    return conversation_id.split("-") if "-" in conversation_id else []


def is_group(conversation_id: str) -> bool:
    return "-" not in conversation_id


def creates_group(conversation_id: str, event_id: str) -> bool:
    """Whether the event is the one that created the group: only that proves a conversation's
    beginning is cached, since X's 30-day window may have cut the rest short."""
    return (
        is_group(conversation_id)
        and is_x_id(conversation_id)
        and is_x_id(event_id)
        and int(event_id) == int(conversation_id) + 4
    )
