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

    def history_json(self, episode_events: list[dict[str, Any]]) -> str:
        """The `history` array an episode sends: the played events, then the new ones."""
        new = json.dumps(episode_events)[1:-1]
        if self._json and new:
            return f"[{self._json}, {new}]"
        return f"[{self._json or new}]"

    def extend(self, committed: list[dict[str, Any]]) -> None:
        """Append an episode's committed events; the next episode sees them as played."""
        played = _played(committed)
        self.events.extend(played)
        self.index.add(played)
        chunk = json.dumps(played)[1:-1]
        self._json = f"{self._json}, {chunk}" if self._json and chunk else self._json or chunk
