"""Ids and times of the sandbox's seeded world: X's snowflakes, exact unix milliseconds, the Mint
that hands out ids with distinct milliseconds, and SEED, the root of every seeded random stream.

Ids are X snowflakes: ((unix_ms - 1288834974657) << 22) | (worker << 12) | sequence, so an id
carries its creation time to the millisecond. Kept apart from seed.py because the people, the
crowd and the archive mint and read ids too.
"""

import random
from datetime import UTC, datetime, timedelta

TWITTER_EPOCH_MS = 1288834974657
_TWITTER_EPOCH = datetime(2010, 11, 4, 1, 42, 54, 657000, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
SEED = "xsandbox-2026"


def to_ms(dt: datetime) -> int:
    """Unix milliseconds, exactly (no float rounding)."""
    return TWITTER_EPOCH_MS + (dt - _TWITTER_EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _TWITTER_EPOCH + (ms - TWITTER_EPOCH_MS) * _MS


def snowflake(dt: datetime, seq: int = 0, *, worker: int = 0) -> int:
    """The X id minted at dt's millisecond by `worker` (10 bits) with sequence `seq` (12 bits)."""
    return ((to_ms(dt) - TWITTER_EPOCH_MS) << 22) | ((worker & 0x3FF) << 12) | (seq & 0xFFF)


def snowflake_time(snowflake_id: int) -> datetime:
    return from_ms((snowflake_id >> 22) + TWITTER_EPOCH_MS)


class Mint:
    """Hands out snowflakes with distinct milliseconds, so ids never collide and sort by time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[int] = set()

    def __call__(self, dt: datetime) -> int:
        ms = to_ms(dt)
        while ms in self.used:
            ms += 1
        self.used.add(ms)
        return snowflake(from_ms(ms), self.rng.randrange(4), worker=self.rng.randrange(1024))
