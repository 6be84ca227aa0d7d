"""PlayedHistory builds exactly the history JSON a full re-encode would, episode after episode."""

from __future__ import annotations

import json

from devhost.durable.played import PlayedHistory
from devhost.durable.walk import HistoryIndex


def ev(kind: int, played: bool = False, **fields: object) -> dict:
    return {"EventType": kind, "EventId": -1, "IsPlayed": played, "Timestamp": "t", **fields}


def test_history_json_equals_a_full_encoding_as_episodes_accumulate() -> None:
    stored = [ev(12), ev(0, Name="o"), ev(4, EventId=0), ev(13)]
    history = PlayedHistory("exec-1", stored)
    assert all(e["IsPlayed"] for e in history.events)
    assert stored[0]["IsPlayed"] is False  # the stored events are not mutated
    for step in range(3):
        episode = [ev(12), ev(5, TaskScheduledId=step, Result=json.dumps(step))]
        expected = [dict(e, IsPlayed=True) for e in history.events] + episode
        assert json.loads(history.history_json(episode)) == expected
        history.extend([*episode, ev(4, EventId=step + 1), ev(13)])
    assert len(history.events) == 4 + 3 * 4
    assert all(e["IsPlayed"] for e in history.events)


def test_empty_history_and_empty_episode() -> None:
    history = PlayedHistory("exec-1", [])
    assert json.loads(history.history_json([])) == []
    first = [ev(12), ev(0, Name="o")]
    assert json.loads(history.history_json(first)) == first
    history.extend(first)
    assert json.loads(history.history_json([])) == [dict(e, IsPlayed=True) for e in first]


def test_the_index_overlay_sees_played_and_new_events() -> None:
    history = PlayedHistory(
        "exec-1",
        [ev(12), ev(0), ev(4, EventId=0), ev(13), ev(12), ev(5, TaskScheduledId=0), ev(13)],
    )
    overlay = HistoryIndex(
        [ev(12), ev(6, TaskScheduledId=0), ev(15, Name="go"), ev(15, Name="go")],
        base=history.index,
    )
    assert overlay.scheduled(0)["EventType"] == 4
    assert overlay.completion(0)["EventType"] == 5  # the first completion wins
    assert overlay.completed_at(0) == 5  # positions count from the start of the history
    assert overlay.raised() == [(9, "go"), (10, "go")]
    assert history.index.raised() == []  # the overlay leaves the base alone
