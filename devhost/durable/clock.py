"""The engine's clock: wall time, or virtual time that jumps to the next timer when idle."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Epoch seconds plus an offset that only grows, so virtual time never runs backwards."""

    def __init__(self, *, virtual: bool = False, offset: float = 0.0) -> None:
        self.virtual = virtual
        self.offset = offset
        # In virtual mode timers fire as soon as nothing else is pending, unless a test
        # paused that to raise events first (then only advance() moves the clock).
        self.auto_advance = virtual

    def now(self) -> float:
        return time.time() + self.offset

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def advance_to(self, moment: float) -> bool:
        """Move virtual time forward to `moment`; returns whether the clock moved."""
        gap = moment - self.now()
        if gap <= 0:
            return False
        self.offset += gap
        return True

    def advance_by(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time cannot move backwards")
        self.offset += seconds
