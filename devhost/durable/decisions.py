"""What an episode decides from the orchestrator's answer: events, status, notices for a parent."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.durable.failures import orchestrator_failure, parse_to_jtoken
from devhost.durable.history import (
    EventType,
    event,
    format_timestamp,
    orchestrator_completed,
    orchestrator_started,
)
from devhost.durable.store import Instance
from devhost.durable.walk import WalkResult

log = logging.getLogger("devhost.durable")

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


@dataclass
class Episode:
    """What one episode decided, ready to be committed."""

    instance: Instance
    consumed: list[int]
    events: list[dict[str, Any]]
    status: str
    output: str | None = None
    custom_status: str | None = None
    walk: WalkResult = field(default_factory=WalkResult)
    parent_notice: dict[str, Any] | None = None
    restart_input: str | None = None
    continue_as_new: bool = False
    # The JSON of the first len(encoded) events, already made for the orchestrator's context.
    encoded: list[str] = field(default_factory=list)

    def encode_prefix(self, events: list[dict[str, Any]], texts: list[str]) -> None:
        """Keep `texts` as the JSON of `events` if this episode's events begin with them."""
        head = self.events[: len(events)]
        if len(head) == len(events) and all(a is b for a, b in zip(head, events, strict=True)):
            self.encoded = texts

    def encoded_events(self) -> list[str]:
        """The JSON of every event, each encoded once."""
        done = self.encoded
        return done + [json.dumps(e) for e in self.events[len(done) :]]


def context_json(inst: Instance, history_json: str) -> str:
    """The orchestration trigger's input, as the extension builds it."""
    rest = json.dumps(
        {
            "input": json.loads(inst.input) if inst.input is not None else None,
            "instanceId": inst.instance_id,
            "isReplaying": False,
            "parentInstanceId": inst.parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
    )
    return f'{{"history": {history_json}, {rest[1:]}'


def orchestrator_error(message: str) -> str:
    """The error an orchestrator raised, from the worker's failure message.

    The SDK raises `<error>\\n\\n$OutOfProcData$:<state JSON>`; the state's "error" is the text.
    """
    if OUT_OF_PROC_MARKER not in message:
        return message
    text, state = message.split(OUT_OF_PROC_MARKER, 1)
    try:
        return json.loads(state).get("error") or text
    except ValueError:
        return text


def terminated(
    inst: Instance, consumed: list[int], at: datetime, message: dict[str, Any]
) -> Episode:
    reason = message.get("Input")
    # The status shows the reason as JSON when it parses as JSON, as the extension does.
    output = json.dumps(parse_to_jtoken(reason))
    events = [
        orchestrator_started(at),
        dict(message, Timestamp=format_timestamp(at)),
        event(EventType.EXECUTION_COMPLETED, at, OrchestrationStatus=5, Result=output),
        orchestrator_completed(at),
    ]
    log.info("Orchestration '%s' (%s) terminated: %s", inst.name, inst.instance_id, reason)
    return Episode(
        inst,
        consumed,
        events,
        "Terminated",
        output=output,
        custom_status=inst.custom_status,
        parent_notice=_parent_failure(inst, reason or "", None, at),
    )


def failed(
    inst: Instance,
    consumed: list[int],
    episode_events: list[dict[str, Any]],
    at: datetime,
    error: str,
) -> Episode:
    reason, details = orchestrator_failure(inst.name, error)
    log.error("Orchestration '%s' (%s) failed: %s", inst.name, inst.instance_id, error)
    output = json.dumps(reason)
    events = [
        *episode_events,
        event(
            EventType.EXECUTION_COMPLETED,
            at,
            OrchestrationStatus=3,
            Result=output,
            FailureDetails={
                "ErrorType": "OrchestrationFailureException",
                "ErrorMessage": reason,
            },
        ),
        orchestrator_completed(at),
    ]
    return Episode(
        inst,
        consumed,
        events,
        "Failed",
        output=output,
        custom_status=inst.custom_status,
        parent_notice=_parent_failure(inst, reason, details, at),
    )


def from_state(
    inst: Instance,
    consumed: list[int],
    episode_events: list[dict[str, Any]],
    at: datetime,
    state: dict[str, Any],
    walk: WalkResult,
) -> Episode:
    """The episode an orchestrator's state and the walk of its actions add up to."""
    custom = state.get("customStatus")
    custom_text = json.dumps(custom) if custom is not None else None
    for message in walk.unknown_calls:
        # The extension only logs this; the call never completes and the instance waits.
        log.error("Orchestration '%s' (%s): %s", inst.name, inst.instance_id, message)
    events = episode_events + walk.new_events
    if walk.continue_as_new:
        events.append(orchestrator_completed(at))
        return Episode(
            inst,
            consumed,
            events,
            "ContinuedAsNew",
            custom_status=custom_text,
            walk=walk,
            restart_input=walk.continue_as_new_input,
            continue_as_new=True,
        )
    if state.get("isDone") and walk.open_tasks:
        log.info(
            "Orchestration '%s' (%s) returned, but completes only when its %d pending "
            "task(s) finish (cancel timers you no longer need)",
            inst.name,
            inst.instance_id,
            len(walk.open_tasks),
        )
    elif state.get("isDone"):
        output = json.dumps(state["output"]) if "output" in state else None
        events.append(
            event(EventType.EXECUTION_COMPLETED, at, OrchestrationStatus=1, Result=output)
        )
        events.append(orchestrator_completed(at))
        return Episode(
            inst,
            consumed,
            events,
            "Completed",
            output=output,
            custom_status=custom_text,
            walk=walk,
            parent_notice=_parent_completion(inst, output, at),
        )
    events.append(orchestrator_completed(at))
    return Episode(inst, consumed, events, "Running", custom_status=custom_text, walk=walk)


def _parent_completion(inst: Instance, output: str | None, at: datetime) -> dict[str, Any] | None:
    if inst.parent_instance_id is None:
        return None
    return event(
        EventType.SUB_ORCHESTRATION_COMPLETED,
        at,
        TaskScheduledId=inst.parent_task_id,
        Result=output,
    )


def _parent_failure(
    inst: Instance, reason: str, details: str | None, at: datetime
) -> dict[str, Any] | None:
    if inst.parent_instance_id is None:
        return None
    return event(
        EventType.SUB_ORCHESTRATION_FAILED,
        at,
        TaskScheduledId=inst.parent_task_id,
        Reason=reason,
        Details=details,
    )
