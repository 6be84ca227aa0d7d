"""Named fault points: tests crash an adapter right after a side effect to prove retries are safe.

Each adapter calls its hook with a point name (e.g. "payments.charged") just after a write and
before it returns. In the app the hook does nothing; a test passes one that raises at one point.
"""

from __future__ import annotations

from collections.abc import Callable

FaultHook = Callable[[str], None]


def no_fault(point: str) -> None:
    """The app's hook: carry on."""
