"""Entity calls and signals in the extension's action walk: event ids, EventSent, responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from devhost.durable import entity_wire
from devhost.durable.walk import (
    ActionWalk,
    FunctionCatalog,
    HistoryIndex,
    OrchestrationRejected,
    WalkResult,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
CATALOG = FunctionCatalog(
    activities=frozenset({"work"}), orchestrators=frozenset(), entities=frozenset({"counter"})
)


def ev(kind: int, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {"EventType": kind, "EventId": event_id, "IsPlayed": True, "Timestamp": "t", **fields}


def started() -> list[dict[str, Any]]:
    return [ev(12), ev(0, Name="o")]


def call(op: str, value: Any = None, key: str = "k") -> dict[str, Any]:
    return {
        "actionType": 7,
        "instanceId": f"@counter@{key}",
        "operation": op,
        "input": json.dumps(value),
    }


def signal(op: str, value: Any = None, key: str = "k") -> dict[str, Any]:
    return dict(call(op, value, key), actionType=9)


def walk(history: list[dict[str, Any]], actions: list[dict[str, Any]]) -> WalkResult:
    return ActionWalk(HistoryIndex(history), NOW, "exec", CATALOG, instance_id="orch").run(
        [actions], 3
    )


def test_signal_and_call_each_take_an_id_and_send_a_request() -> None:
    result = walk(
        started(),
        [signal("add", 1), call("get"), {"actionType": 0, "functionName": "work", "input": None}],
    )
    sent = result.new_events
    assert [(e["EventType"], e["EventId"]) for e in sent] == [(14, 0), (14, 1)]
    assert all(e["InstanceId"] == "@counter@k" and e["Name"] == "op" for e in sent)
    first, second = (json.loads(e["Input"]) for e in sent)
    assert first == {
        "op": "add",
        "signal": True,
        "input": '"1"',
        "id": entity_wire.request_id("orch", NOW, 0),
        "parent": "orch",
        "parentExecution": "exec",
    }
    assert second["id"] == entity_wire.request_id("orch", NOW, 1)
    assert "signal" not in second
    assert result.entity_requests == [("@counter@k", first), ("@counter@k", second)]
    # The call is not answered: the shim waits there, so the activity is not reached.
    assert result.activities == []
    assert result.open_tasks == {1}


def test_replay_keeps_the_recorded_request_id_and_the_response_completes_the_call() -> None:
    recorded = json.dumps({"op": "get", "id": "recorded-guid", "parent": "orch"})
    history = [
        *started(),
        ev(14, 0, InstanceId="@counter@k", Name="op", Input=recorded),
        ev(13),
        ev(12),
        ev(15, Name="recorded-guid", Input='{"result":"3"}'),
    ]
    result = walk(history, [call("get"), {"actionType": 0, "functionName": "work", "input": None}])
    assert result.entity_requests == []
    assert [e["EventType"] for e in result.new_events] == [4]
    assert result.new_events[0]["EventId"] == 1
    assert result.open_tasks == {1}


def test_a_changed_replay_is_non_deterministic() -> None:
    history = [*started(), ev(4, 0, Name="work")]
    with pytest.raises(OrchestrationRejected, match="Non-Deterministic"):
        walk(history, [call("get")])


def test_unknown_entities_signal_fails_and_call_waits() -> None:
    with pytest.raises(OrchestrationRejected, match="is not an entity function"):
        walk(started(), [{**signal("add"), "instanceId": "@nope@k"}])
    waiting = walk(started(), [{**call("get"), "instanceId": "@nope@k"}])
    assert waiting.new_events == [] and waiting.open_tasks == set()
    assert "'nope' doesn't exist" in waiting.unknown_calls[0]


def test_a_replay_sending_to_another_entity_or_operation_is_non_deterministic() -> None:
    recorded = json.dumps({"op": "get", "id": "recorded-guid", "parent": "orch"})
    history = [*started(), ev(14, 0, InstanceId="@counter@k", Name="op", Input=recorded)]
    with pytest.raises(OrchestrationRejected, match="sent operation 'get' to entity '@counter@k'"):
        walk(history, [call("get", key="other")])
    with pytest.raises(OrchestrationRejected, match="the current replay sends 'add'"):
        walk(history, [call("add", 1)])
