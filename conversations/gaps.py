"""Honest gaps: where the cache and what X still holds no longer meet (sync.py records them as
HistoryGap), a line in the conversation at that place and a note on the inbox."""

from datetime import datetime

from django.utils import timezone

from conversations.models import HistoryGap
from conversations.rendering import Block


def sentence(gap: HistoryGap) -> str:
    """What happened; templates/history_gap.html adds the way out (a link to the Import page)."""
    return (
        f"Messages from {_day(gap.after_at)} to {_day(gap.before_at)} could not be fetched: "
        "X keeps only the last 30 days."
    )


def _day(at: datetime) -> str:
    local = timezone.localtime(at)
    if local.year == timezone.localdate().year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def place(blocks: list[Block], gaps: list[HistoryGap]) -> list[Block]:
    """A "gap" block before the first event after each gap shown on this page (with its day
    line); a page that ends just after a gap shows the line at its top, and the older page,
    loaded above it, comes before it."""
    events = [e for block in blocks for e in block.events]
    if not events or not gaps:
        return blocks
    oldest, newest = min(e.created_at for e in events), max(e.created_at for e in events)
    placed = list(blocks)
    for gap in gaps:
        if not (oldest <= gap.before_at <= newest):
            continue
        for i, block in enumerate(placed):
            if any(e.created_at >= gap.before_at for e in block.events):
                at = i - 1 if i and placed[i - 1].kind == "day" else i
                placed.insert(at, Block("gap", label=sentence(gap)))
                break
    return placed
