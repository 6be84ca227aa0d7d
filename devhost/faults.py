"""Crash injection for devhost's own crash tests: DEVHOST_CRASH_AT=<point>:<n> dies at the nth hit.

Unset (always, outside those tests) each check is one dictionary lookup. The process dies by
SIGKILL, like a power cut: no cleanup, no flush, no atexit.
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = frozenset(
    {
        "store.before_commit",  # inside a transaction, every statement executed, not committed
        "store.after_commit",  # committed, nobody told yet
        "episode.after_replay",  # the orchestrator ran; nothing of the episode is persisted
        "activity.after_invoke",  # the activity's side effect happened; its result is not recorded
    }
)

_lock = threading.Lock()
_point, _, _count = (os.environ.get("DEVHOST_CRASH_AT") or "").partition(":")
_remaining = int(_count or 1) if _point else 0
if _point and _point not in POINTS:
    raise SystemExit(f"DEVHOST_CRASH_AT names an unknown point '{_point}'; known: {sorted(POINTS)}")


def crash_point(name: str) -> None:
    """Kill the process here if this is the configured point and its count is reached."""
    global _remaining
    if name != _point:
        return
    with _lock:
        _remaining -= 1
        if _remaining > 0:
            return
    os.kill(os.getpid(), signal.SIGKILL)
