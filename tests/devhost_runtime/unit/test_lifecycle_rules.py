"""devhost's lifecycle rules without a host: suspension gating, the rewind rewrite, list pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devhost.durable.history import EventType, event, orchestrator_completed, orchestrator_started
from devhost.durable.lifecycle import gate_messages, page, rewind_instance, rewound_history
from devhost.durable.store import InboxMessage, Instance, Store

AT = datetime(2026, 1, 1, tzinfo=UTC)


def instance(status: str = "Running", instance_id: str = "i", **fields: Any) -> Instance:
    values: dict[str, Any] = {
        "instance_id": instance_id,
        "name": "orch",
        "version": None,
        "execution_id": "e1",
        "runtime_status": status,
        "input": None,
        "output": None,
        "custom_status": None,
        "created_time": "2026-01-01T00:00:00Z",
        "last_updated_time": "2026-01-01T00:00:00Z",
        "parent_instance_id": None,
        "parent_execution_id": None,
        "parent_task_id": None,
    }
    values.update(fields)
    return Instance(**values)


def message(number: int, kind: EventType, **fields: Any) -> InboxMessage:
    return InboxMessage(number, "i", None, event(kind, AT, **fields), 0.0)


# -- suspension --------------------------------------------------------------------------------


def test_a_running_instance_without_markers_gets_everything() -> None:
    messages = [message(1, EventType.EVENT_RAISED, Name="a"), message(2, EventType.TASK_COMPLETED)]
    gate = gate_messages(instance(), messages)
    assert gate.delivered == messages and not gate.held and not gate.suspended


def test_a_suspended_instance_holds_all_but_markers_and_resume_releases_them_in_order() -> None:
    raised = message(1, EventType.EVENT_RAISED, Name="a")
    completion = message(2, EventType.TASK_COMPLETED, TaskScheduledId=0)
    gate = gate_messages(instance("Suspended"), [raised, completion])
    assert gate.delivered == [] and gate.held == {1, 2} and gate.suspended
    resume = message(3, EventType.EXECUTION_RESUMED, Reason="go")
    gate = gate_messages(instance("Suspended"), [raised, completion, resume])
    assert [m.id for m in gate.delivered] == [3, 1, 2]
    assert not gate.held and not gate.suspended and not gate.markers_only


def test_messages_after_a_suspend_wait_and_a_repeated_suspend_is_dropped() -> None:
    before = message(1, EventType.TASK_COMPLETED, TaskScheduledId=0)
    suspend = message(2, EventType.EXECUTION_SUSPENDED, Reason="x")
    after = message(3, EventType.EVENT_RAISED, Name="a")
    again = message(4, EventType.EXECUTION_SUSPENDED, Reason="y")
    gate = gate_messages(instance(), [before, suspend, after, again])
    assert [m.id for m in gate.delivered] == [1, 2]
    assert gate.held == {3} and gate.suspended  # message 4 is consumed, not delivered


def test_terminate_overrides_suspension() -> None:
    held = message(1, EventType.EVENT_RAISED, Name="a")
    terminate = message(2, EventType.EXECUTION_TERMINATED, Input="stop")
    gate = gate_messages(instance("Suspended"), [held, terminate])
    assert gate.delivered == [held, terminate] and not gate.held


# -- the rewind rewrite --------------------------------------------------------------------------


def ev(kind: EventType, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return event(kind, AT, event_id, **fields)


def started() -> list[dict[str, Any]]:
    return [
        orchestrator_started(AT),
        ev(EventType.EXECUTION_STARTED, Name="orch", Input=None),
    ]


def failed_end() -> list[dict[str, Any]]:
    return [ev(EventType.EXECUTION_COMPLETED, OrchestrationStatus=3), orchestrator_completed(AT)]


def shape(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    out = []
    for e in events:
        kind = EventType(e["EventType"])
        if kind in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            continue
        ident = e.get("TaskScheduledId", e.get("TimerId", e["EventId"]))
        out.append((kind.name, ident))
    return out


def test_a_failed_activity_is_scheduled_again_and_successes_stay() -> None:
    history = [
        *started(),
        ev(EventType.TASK_SCHEDULED, 0, Name="a"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.TASK_COMPLETED, TaskScheduledId=0),
        ev(EventType.TASK_SCHEDULED, 1, Name="b"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.TASK_FAILED, TaskScheduledId=1),
        *failed_end(),
    ]
    rewound = rewound_history(history)
    assert shape(rewound.events) == [
        ("EXECUTION_STARTED", -1),
        ("TASK_SCHEDULED", 0),
        ("TASK_COMPLETED", 0),
    ]
    assert rewound.open_children == {} and rewound.open_activities == set()


def retry_chain(last_outcome: EventType) -> list[dict[str, Any]]:
    """Attempt 0 fails, retry timer 1, attempt 2 ends with `last_outcome`."""
    events = [
        ev(EventType.TASK_SCHEDULED, 0, Name="a"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.TASK_FAILED, TaskScheduledId=0),
        ev(EventType.TIMER_CREATED, 1, FireAt="2026-01-01T00:00:01.000000Z"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.TIMER_FIRED, TimerId=1),
        ev(EventType.TASK_SCHEDULED, 2, Name="a"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(last_outcome, TaskScheduledId=2),
    ]
    if last_outcome == EventType.TASK_FAILED:
        events.append(ev(EventType.TIMER_CREATED, 3, FireAt="2026-01-01T00:00:02.000000Z"))
        events += [orchestrator_completed(AT), orchestrator_started(AT)]
        events.append(ev(EventType.TIMER_FIRED, TimerId=3))
    return events


def test_a_retry_chain_that_failed_starts_again_from_its_first_attempt() -> None:
    rewound = rewound_history([*started(), *retry_chain(EventType.TASK_FAILED), *failed_end()])
    assert shape(rewound.events) == [("EXECUTION_STARTED", -1)]


def test_a_retry_chain_that_succeeded_is_left_alone() -> None:
    history = [
        *started(),
        *retry_chain(EventType.TASK_COMPLETED),
        ev(EventType.TASK_SCHEDULED, 3, Name="b"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.TASK_FAILED, TaskScheduledId=3),
        *failed_end(),
    ]
    kept = shape(rewound_history(history).events)
    assert ("TASK_FAILED", 0) in kept and ("TIMER_FIRED", 1) in kept
    assert ("TASK_COMPLETED", 2) in kept
    assert ("TASK_SCHEDULED", 3) not in kept and ("TASK_FAILED", 3) not in kept


def test_a_failed_child_keeps_its_creation_and_is_named_for_rewind() -> None:
    history = [
        *started(),
        ev(EventType.SUB_ORCHESTRATION_CREATED, 0, Name="child", InstanceId="c"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.SUB_ORCHESTRATION_FAILED, TaskScheduledId=0),
        *failed_end(),
    ]
    rewound = rewound_history(history)
    assert shape(rewound.events) == [
        ("EXECUTION_STARTED", -1),
        ("SUB_ORCHESTRATION_CREATED", 0),
    ]
    assert rewound.open_children == {0: "c"}


# -- rewind in the store: completions lost while the instance was Failed --------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "state.sqlite3", fsync=False)
    yield opened
    opened.close()


def test_rewind_recovers_completions_dropped_while_failed(store: Store) -> None:
    fire_at = "2026-01-01T01:00:00.000000Z"
    history = [
        *started(),
        ev(EventType.TASK_SCHEDULED, 0, Name="lost"),
        ev(EventType.TASK_SCHEDULED, 1, Name="still_running"),
        ev(EventType.SUB_ORCHESTRATION_CREATED, 2, Name="child", InstanceId="done-child"),
        ev(EventType.SUB_ORCHESTRATION_CREATED, 3, Name="child", InstanceId="gone-child"),
        ev(EventType.TIMER_CREATED, 4, FireAt=fire_at),
        ev(EventType.TASK_SCHEDULED, 5, Name="failing"),
        ev(EventType.SUB_ORCHESTRATION_CREATED, 6, Name="child", InstanceId="failed-child"),
        orchestrator_completed(AT),
        orchestrator_started(AT),
        ev(EventType.TASK_FAILED, TaskScheduledId=5),
        *failed_end(),
    ]
    child_history = [*started(), *failed_end()]

    def setup(tx: Any) -> None:
        tx.put_instance(instance("Failed", output='"boom"'))
        tx.put_instance(instance("Completed", "done-child", output='"fine"'))
        tx.put_instance(instance("Terminated", "gone-child"))
        tx.append_history("i", 0, history)
        tx.add_work_item("i", "e1", 1, "still_running", None)
        tx.put_instance(instance("Failed", "failed-child", parent_instance_id="i"))
        tx.append_history("failed-child", 0, child_history)
        # The child's failure reached the parent's inbox but no episode has dropped it yet.
        late = event(EventType.SUB_ORCHESTRATION_FAILED, AT, TaskScheduledId=6, Reason="x")
        tx.enqueue("i", "e1", late, 0.0)

    store.run_sync(setup)
    rewound = store.run_sync(lambda tx: rewind_instance(tx, "i", "again", AT))
    assert rewound == ["i", "failed-child"]
    events = store.run_sync(lambda tx: tx.load_history("i"))
    kept = shape(events)
    assert ("TASK_SCHEDULED", 0) not in kept  # lost: scheduled again by the replay
    assert ("TASK_SCHEDULED", 1) in kept  # its work item still runs
    assert ("SUB_ORCHESTRATION_CREATED", 2) in kept
    assert ("SUB_ORCHESTRATION_CREATED", 3) not in kept  # started afresh
    assert ("SUB_ORCHESTRATION_CREATED", 6) in kept  # rewound with its parent
    assert ("TASK_SCHEDULED", 5) not in kept and ("TASK_FAILED", 5) not in kept
    inbox = store.run_sync(lambda tx: tx.ready_messages("i", float("inf")))
    queued = [(EventType(m.event["EventType"]).name, m.event) for m in inbox]
    assert queued[0][0] == "SUB_ORCHESTRATION_COMPLETED"
    assert queued[0][1]["TaskScheduledId"] == 2 and queued[0][1]["Result"] == '"fine"'
    assert queued[1][0] == "TIMER_FIRED" and queued[1][1]["FireAt"] == fire_at
    assert queued[2][0] == "GENERIC" and queued[2][1]["Data"] == "again"
    assert len(queued) == 3  # the child's stale failure is gone
    child = store.run_sync(lambda tx: tx.get_instance("failed-child"))
    assert child is not None and child.runtime_status == "Pending"
    child_kinds = shape(store.run_sync(lambda tx: tx.load_history("failed-child")))
    assert child_kinds == [("EXECUTION_STARTED", -1)]
    inst = store.run_sync(lambda tx: tx.get_instance("i"))
    assert inst is not None and inst.runtime_status == "Pending" and inst.output is None


# -- list pages -----------------------------------------------------------------------------------


def test_pages_continue_after_the_last_instance_returned() -> None:
    instances = [
        instance(instance_id=f"i{n}", created_time=f"2026-01-01T00:00:0{n}Z") for n in range(5)
    ]
    first, token = page(instances, 2, "")
    assert [i.instance_id for i in first] == ["i0", "i1"] and token
    # i1 is purged and a new instance arrives before the next request: nothing repeats.
    remaining = [i for i in instances if i.instance_id != "i1"]
    second, token = page(remaining, 2, token)
    assert [i.instance_id for i in second] == ["i2", "i3"]
    third, token = page(remaining, 2, token)
    assert [i.instance_id for i in third] == ["i4"] and token == ""
    with pytest.raises(ValueError):
        page(instances, 0, "")
    with pytest.raises(ValueError):
        page(instances, 2, "not a token!")
