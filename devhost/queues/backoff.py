"""The idle polling delay of the queue listener: randomized exponential backoff.

A port of the extension's RandomizedExponentialBackoffStrategy with QueuePollingIntervals:
100 ms after a poll that found messages, then 100 ms + r * 2^(n-1) * 100 ms (r uniform in
0.8-1.2) for the n-th empty poll in a row, capped at maxPollingInterval.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RANDOMIZATION = 0.2


class PollingBackoff:
    def __init__(
        self,
        minimum: float,
        maximum: float,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if minimum < 0 or maximum < 0:
            raise ValueError("polling intervals must not be negative")
        if minimum > maximum:
            raise ValueError("the minimum polling interval must not exceed the maximum")
        self.minimum = minimum
        self.maximum = maximum
        self._uniform = uniform
        self._current = 0.0
        self._exponent = 0

    def next_delay(self, found_messages: bool) -> float:
        """Seconds to wait before the next poll; `found_messages` since the last delay resets."""
        if found_messages:
            self._current = self.minimum
            self._exponent = 1
        elif self._current != self.maximum:
            interval = self.minimum
            if self._exponent > 0:
                factor = self._uniform(1.0 - RANDOMIZATION, 1.0 + RANDOMIZATION)
                interval += factor * 2.0 ** (self._exponent - 1) * self.minimum
            if interval < self.maximum:
                self._current = interval
                self._exponent += 1
            else:
                self._current = self.maximum
        return self._current
