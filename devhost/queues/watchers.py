"""Which running listeners watch which queue, so that a queue output binding wakes them at once.

The extension's SharedQueueWatcher: a message this host adds to a queue it also listens to is
picked up without waiting for the idle polling delay.
"""

from __future__ import annotations

from collections.abc import Callable

_WATCHERS: dict[tuple[str, str], list[Callable[[], None]]] = {}


def watch(connection: str, queue_name: str, wake: Callable[[], None]) -> None:
    _WATCHERS.setdefault((connection, queue_name), []).append(wake)


def unwatch(connection: str, queue_name: str, wake: Callable[[], None]) -> None:
    wakes = _WATCHERS.get((connection, queue_name), [])
    if wake in wakes:
        wakes.remove(wake)


def notify_sent(connection: str, queue_name: str) -> None:
    """A function of this host added a message to `queue_name`: its listeners poll now."""
    for wake in list(_WATCHERS.get((connection, queue_name), [])):
        wake()
