"""Raised events reach waits as in the extension: the latest open wait first, early ones queued."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from devhost.durable.walk import ActionWalk, FunctionCatalog, HistoryIndex, WalkResult

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LATER = "2030-01-02T00:00:00.000000Z"
CATALOG = FunctionCatalog(activities=frozenset({"escalate", "next"}), orchestrators=frozenset())


def ev(kind: int, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {"EventType": kind, "EventId": event_id, "IsPlayed": True, "Timestamp": "t", **fields}


def started() -> list[dict[str, Any]]:
    return [ev(12), ev(0, Name="o")]


def timer_created(timer_id: int) -> dict[str, Any]:
    return ev(10, timer_id, FireAt=LATER)


def timer_fired(timer_id: int) -> dict[str, Any]:
    return ev(11, TimerId=timer_id, FireAt=LATER)


def scheduled(task_id: int, name: str) -> dict[str, Any]:
    return ev(4, task_id, Name=name)


def completed(task_id: int) -> dict[str, Any]:
    return ev(5, TaskScheduledId=task_id, Result="null")


def raised(name: str) -> dict[str, Any]:
    return ev(15, Name=name, Input="true")


def wait(name: str) -> dict[str, Any]:
    return {"actionType": 6, "externalEventName": name}


def timer() -> dict[str, Any]:
    return {"actionType": 5, "fireAt": LATER, "isCanceled": False}


def activity(name: str) -> dict[str, Any]:
    return {"actionType": 0, "functionName": name, "input": None}


def any_of(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": 11, "compoundActions": list(actions)}


def walk(history: list[dict[str, Any]], actions: list[dict[str, Any]]) -> WalkResult:
    return ActionWalk(HistoryIndex(history), NOW, "exec", CATALOG).run([actions], 3)


def new_activities(result: WalkResult) -> list[str]:
    return [call.name for call in result.activities]


def test_an_event_goes_to_the_wait_after_a_timed_out_one() -> None:
    """The task_any-in-a-loop pattern: the abandoned first wait must not take the event."""
    history = [*started(), timer_created(0), timer_fired(0), timer_created(1), raised("A")]
    actions = [any_of(wait("A"), timer()), any_of(wait("A"), timer()), activity("next")]
    assert new_activities(walk(history, actions)) == ["next"]


def test_an_event_raised_while_nothing_newer_waits_goes_to_the_abandoned_wait() -> None:
    """As in Azure: an event that arrives while the escalation runs completes the first wait."""
    history = [
        *started(),
        timer_created(0),
        timer_fired(0),
        scheduled(1, "escalate"),
        raised("A"),
        completed(1),
        timer_created(2),
    ]
    actions = [
        any_of(wait("A"), timer()),
        activity("escalate"),
        any_of(wait("A"), timer()),
        activity("next"),
    ]
    assert new_activities(walk(history, actions)) == []


def test_events_raised_before_the_waits_are_taken_in_order() -> None:
    history = [*started(), raised("A"), raised("A")]
    assert new_activities(walk(history, [wait("A"), wait("A"), activity("next")])) == ["next"]
    assert new_activities(walk(history[:-1], [wait("A"), wait("A"), activity("next")])) == []


def test_an_event_for_another_name_is_kept_for_its_wait() -> None:
    history = [*started(), raised("B"), scheduled(0, "escalate"), completed(0)]
    actions = [activity("escalate"), wait("B"), activity("next")]
    assert new_activities(walk(history, actions)) == ["next"]
