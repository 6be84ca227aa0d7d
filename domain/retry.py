"""Retry schedules: exponential backoff with jitter that is the same on every replay."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure."""

    max_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=2)
    backoff_coefficient: float = 2.0
    max_delay: timedelta = timedelta(minutes=5)
    jitter: float = 0.2  # up to ±20 % of each delay

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, attempt: int, seed: str) -> timedelta:
        """The wait after failed attempt `attempt` (1-based).

        Jitter comes from a hash of `seed` and the attempt, not from a random generator, so an
        orchestrator computes the same timer on every replay (it must be deterministic).
        """
        base = self.first_delay.total_seconds() * self.backoff_coefficient ** (attempt - 1)
        base = min(base, self.max_delay.total_seconds())
        digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
        unit = int.from_bytes(digest[:8], "big") / 2**64  # in [0, 1)
        return timedelta(seconds=base * (1 + self.jitter * (2 * unit - 1)))
