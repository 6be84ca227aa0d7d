"""An instance's played history with its JSON, so each episode encodes only its new events."""

from __future__ import annotations

import json
from typing import Any

from devhost.durable.walk import HistoryIndex


def _played(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e if e["IsPlayed"] else dict(e, IsPlayed=True) for e in events]


class PlayedHistory:
    """The events of one execution before the current episode, all marked IsPlayed."""

    def __init__(self, execution_id: str, events: list[dict[str, Any]]) -> None:
        self.execution_id = execution_id
        self.events = _played(events)
        self.index = HistoryIndex(self.events)
        self._json = json.dumps(self.events)[1:-1]

    def history_json(self, episode_texts: list[str]) -> str:
        """The `history` array an episode sends: the played events, then the new ones (given
        as their JSON, encoded once by the caller)."""
        new = ", ".join(episode_texts)
        if self._json and new:
            return f"[{self._json}, {new}]"
        return f"[{self._json or new}]"

    def extend(self, committed: list[dict[str, Any]], texts: list[str] | None = None) -> None:
        """Append an episode's committed events (and their JSON, when the caller has it); the
        next episode sees them as played."""
        played = _played(committed)
        self.events.extend(played)
        self.index.add(played)
        if texts is None:
            chunk = json.dumps(played)[1:-1]
        else:
            chunk = ", ".join(_played_text(e, t) for e, t in zip(committed, texts, strict=True))
        self._json = f"{self._json}, {chunk}" if self._json and chunk else self._json or chunk


_NOT_PLAYED = '"IsPlayed": false'
_EVENT_HEAD = ["EventType", "EventId", "IsPlayed"]


def _played_text(event: dict[str, Any], text: str) -> str:
    """`text` (the JSON of `event`) with IsPlayed true, without encoding the event again.

    Safe where the flag is the event's third key, as `history.event` builds every event: the
    first match is then that key, since a quote inside a string value is always escaped and
    the two integers before it hold none. Any other event is encoded again.
    """
    if event["IsPlayed"]:
        return text
    if list(event)[:3] == _EVENT_HEAD:
        return text.replace(_NOT_PLAYED, '"IsPlayed": true', 1)
    return json.dumps(dict(event, IsPlayed=True))
