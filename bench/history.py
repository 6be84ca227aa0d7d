"""Reads devhost's raw histories and cuts them into the inputs each episode was given."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.durable.replay_inputs import Episode, cut_episodes

Event = dict[str, Any]

# Episode and cut_episodes live in devhost.durable.replay_inputs, shared with the replay check.
__all__ = ["Episode", "Recorded", "cut_episodes", "read_instance", "rebatch_fan_in"]

EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13


@dataclass
class Recorded:
    """One instance as devhost stored it: its input, output and raw history."""

    instance_id: str
    input_token: Any
    output: Any
    events: list[Event]


def read_instance(db: Path, instance_id: str) -> Recorded:
    """Load an instance's input, output and history straight from devhost's SQLite file."""
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute(
            "SELECT input, output FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        if row is None:
            raise LookupError(f"no instance {instance_id} in {db}")
        rows = conn.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
        ).fetchall()
    events = [json.loads(r[0]) for r in rows]
    return Recorded(instance_id, _json_or_none(row[0]), _json_or_none(row[1]), events)


def _json_or_none(text: str | None) -> Any:
    """Decode a nullable JSON column."""
    return json.loads(text) if text is not None else None


def rebatch_fan_in(events: list[Event], batch: int) -> list[Event]:
    """The fan-out history devhost would write if completions arrived `batch` per episode."""
    kinds = [ev["EventType"] for ev in events]
    started = events[kinds.index(ORCHESTRATOR_STARTED)]
    completed = events[kinds.index(ORCHESTRATOR_COMPLETED)]
    execution_started = events[kinds.index(EXECUTION_STARTED)]
    execution_completed = events[kinds.index(EXECUTION_COMPLETED)]
    scheduled = [ev for ev in events if ev["EventType"] == TASK_SCHEDULED]
    results = [ev for ev in events if ev["EventType"] == TASK_COMPLETED]
    rebuilt = [started, execution_started, *scheduled, completed]
    for i in range(0, len(results), batch):
        rebuilt += [started, *results[i : i + batch]]
        if i + batch >= len(results):
            rebuilt.append(execution_completed)
        rebuilt.append(completed)
    return rebuilt
