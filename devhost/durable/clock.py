"""The engine's clock: wall time, or virtual time that jumps to the next timer when idle."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class Clock:
    """Epoch seconds plus an offset that only grows, so virtual time never runs backwards."""

    def __init__(self, *, virtual: bool = False, offset: float = 0.0) -> None:
        self.virtual = virtual
        self.offset = offset
        # In virtual mode timers fire as soon as nothing else is pending, unless a test
        # paused that to raise events first (then only advance() moves the clock).
        self.auto_advance = virtual
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever virtual time jumps (timer triggers re-check schedules)."""
        self._listeners.append(listener)

    def _moved(self) -> None:
        for listener in self._listeners:
            listener()

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
        self._moved()
        return True

    def advance_by(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time cannot move backwards")
        self.offset += seconds
        self._moved()
