"""PlayedHistory builds exactly the history JSON a full re-encode would, episode after episode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhost.durable.decisions import Episode
from devhost.durable.played import PlayedHistory
from devhost.durable.store import Instance, Store
from devhost.durable.walk import HistoryIndex


def ev(kind: int, played: bool = False, **fields: object) -> dict:
    return {"EventType": kind, "EventId": -1, "IsPlayed": played, "Timestamp": "t", **fields}


def texts(events: list[dict]) -> list[str]:
    return [json.dumps(e) for e in events]


@pytest.mark.parametrize("pass_texts", [True, False], ids=["texts given", "encoded here"])
def test_history_json_equals_a_full_encoding_as_episodes_accumulate(pass_texts: bool) -> None:
    stored = [ev(12), ev(0, Name="o"), ev(4, EventId=0), ev(13)]
    history = PlayedHistory("exec-1", stored)
    assert all(e["IsPlayed"] for e in history.events)
    assert stored[0]["IsPlayed"] is False  # the stored events are not mutated
    for step in range(3):
        episode = [ev(12), ev(5, TaskScheduledId=step, Result=json.dumps(step))]
        expected = [dict(e, IsPlayed=True) for e in history.events] + episode
        assert json.loads(history.history_json(texts(episode))) == expected
        committed = [*episode, ev(4, EventId=step + 1), ev(13)]
        history.extend(committed, texts(committed) if pass_texts else None)
    assert len(history.events) == 4 + 3 * 4
    assert all(e["IsPlayed"] for e in history.events)
    assert json.loads(history.history_json([])) == history.events


def test_empty_history_and_empty_episode() -> None:
    history = PlayedHistory("exec-1", [])
    assert json.loads(history.history_json([])) == []
    first = [ev(12), ev(0, Name="o")]
    assert json.loads(history.history_json(texts(first))) == first
    history.extend(first, texts(first))
    assert json.loads(history.history_json([])) == [dict(e, IsPlayed=True) for e in first]


def test_played_text_flips_only_the_flag_even_when_a_value_spells_it() -> None:
    tricky = [
        # An activity result whose text holds the flag, quotes and all, in a string value.
        ev(5, TaskScheduledId=0, Result=json.dumps({"IsPlayed": False, "x": '"IsPlayed": false'})),
        # A nested object (a parent instance) with a key that ends like the flag.
        ev(0, ParentInstance={'"IsPlayed': False}),
        # Not built by history.event: the flag is not the third key, so it is encoded again.
        {"IsPlayed": False, "Name": '"IsPlayed": false', "EventType": 15, "EventId": -1},
        ev(12, played=True),
    ]
    history = PlayedHistory("exec-1", [])
    history.extend(tricky, texts(tricky))
    assert json.loads(history.history_json([])) == [dict(e, IsPlayed=True) for e in tricky]


def test_an_episode_encodes_each_event_once_and_only_a_prefix_it_really_has() -> None:
    inst = Instance("i", "o", None, "e", "Running", None, None, None, "t", "t", None, None, None)
    incoming = [ev(12), ev(5, TaskScheduledId=0, Result="1")]
    episode = Episode(inst, [1], [*incoming, ev(4, EventId=1), ev(13)], "Running")
    episode.encode_prefix(incoming, ["A", "B"])  # stand-in texts: they must be reused as is
    assert episode.encoded_events() == ["A", "B", *texts(episode.events[2:])]
    other = Episode(inst, [1], [ev(12), ev(13)], "Failed")  # not the same event objects
    other.encode_prefix(incoming, ["A", "B"])
    assert other.encoded_events() == texts(other.events)


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


def test_a_queued_message_keeps_the_exact_text_an_episode_reuses(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3", fsync=False)
    try:
        events = [
            ev(5, TaskScheduledId=0, Result=json.dumps({"city": "Zürich", "€": 1.5e16})),
            ev(6, TaskScheduledId=1, Reason="boom \u2028", Details=None),
            ev(15, Name="approval", Input=json.dumps([0.1, -0.0, 10**20])),
        ]
        for event in events:
            store.run_sync(lambda tx, event=event: tx.enqueue("i", "e", event, 0.0))
        messages = store.run_sync(lambda tx: tx.ready_messages("i", 1.0))
        assert [m.event for m in messages] == events
        # The episode sends, stores and keeps this text as the event's JSON: it must be what
        # encoding the event would give.
        assert [m.text for m in messages] == texts(events)
        store.run_sync(lambda tx: tx.append_history("i", 0, events, [m.text for m in messages]))
        assert store.run_sync(lambda tx: tx.load_history("i")) == events
    finally:
        store.close()
