"""Housekeeping with nobody visiting: the scheduler (`manage.py scheduler`) sends `housekeeping`
once when it starts and every HOUSEKEEPING_SECONDS (an hour) after, and apps connect what must
happen on time (exports: the files a week old). Receivers must be idempotent and quick: several
schedulers may run, and each sends it.

As `leaving.erasing`: this app knows nothing of the others; they connect in their AppConfig.ready.
"""

import logging
import time

from django.dispatch import Signal

logger = logging.getLogger(__name__)

housekeeping = Signal()
HOUSEKEEPING_SECONDS = 3600.0


class Clock:
    """When housekeeping is next due, for a loop that ticks more often (the scheduler)."""

    def __init__(self, every: float = HOUSEKEEPING_SECONDS):
        self.every, self.due = every, 0.0

    def tick(self) -> bool:
        """Send `housekeeping` if it is due; True if it was sent."""
        now = time.monotonic()
        if now < self.due:
            return False
        self.due = now + self.every
        for receiver, outcome in housekeeping.send_robust(sender=Clock):
            if isinstance(outcome, Exception):
                logger.warning("Housekeeping by %s failed: %r", receiver, outcome)
        return True
