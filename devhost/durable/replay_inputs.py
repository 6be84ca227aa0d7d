"""Cuts a recorded history into episodes and rebuilds the context JSON devhost sent each one.

Shared by the replay benchmark (bench/) and the recorded-history replay check
(devhost/durable/replay_check.py): both feed the SDK exactly what the engine fed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devhost.durable.history import EventType

Event = dict[str, Any]

# What an episode appends after the messages it delivered: the walk's new work, the end.
PRODUCED = frozenset(
    {
        EventType.EXECUTION_COMPLETED,
        EventType.TASK_SCHEDULED,
        EventType.SUB_ORCHESTRATION_CREATED,
        EventType.TIMER_CREATED,
        EventType.EVENT_SENT,
        EventType.CONTINUE_AS_NEW,
        EventType.ORCHESTRATOR_COMPLETED,
    }
)


@dataclass(frozen=True)
class Episode:
    """Episode input = events[:start] as played, then events[start:end] as new."""

    start: int
    end: int

    @property
    def messages(self) -> int:
        """How many messages (completions, events, ExecutionStarted) the episode delivered."""
        return self.end - self.start - 1


def cut_episodes(events: list[Event]) -> list[Episode]:
    """Each OrchestratorStarted plus the messages after it, up to what the episode produced."""
    episodes = []
    for start, ev in enumerate(events):
        if ev["EventType"] != EventType.ORCHESTRATOR_STARTED:
            continue
        end = start + 1
        while end < len(events) and events[end]["EventType"] not in PRODUCED:
            end += 1
        episodes.append(Episode(start, end))
    return episodes


def produced_by(events: list[Event], episode: Episode) -> list[Event]:
    """The events the episode appended after its messages, up to its OrchestratorCompleted."""
    produced = []
    for ev in events[episode.end :]:
        if ev["EventType"] == EventType.ORCHESTRATOR_STARTED:
            break
        produced.append(ev)
        if ev["EventType"] == EventType.ORCHESTRATOR_COMPLETED:
            break
    return produced


def episode_history(events: list[Event], episode: Episode) -> list[Event]:
    """The `history` an episode was sent: earlier events played, its own events new."""
    played = [dict(ev, IsPlayed=True) for ev in events[: episode.start]]
    fresh = [dict(ev, IsPlayed=False) for ev in events[episode.start : episode.end]]
    return played + fresh


def context_json(
    history: list[Event],
    input_token: Any,
    instance_id: str,
    parent_instance_id: str | None = None,
) -> str:
    """The orchestration trigger's input, with the fields decisions.context_json sends.

    `input_token` is the instance's input as the context carries it: the caller's JSON text.
    """
    return json.dumps(
        {
            "history": history,
            "input": input_token,
            "instanceId": instance_id,
            "isReplaying": False,
            "parentInstanceId": parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
    )
