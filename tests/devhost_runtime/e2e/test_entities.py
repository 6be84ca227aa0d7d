"""Durable entities on devhost: orchestrator calls and signals, client signals and reads,
one batch at a time per entity in arrival order, state in the durable store."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.durable import entity_wire
from devhost.durable.history import parse_timestamp
from devhost.durable.store import SCHEMA
from devhost.testing import DURABLE, DevHostError, DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "durable_entities"
EVENT_SENT, EVENT_RAISED, ORCHESTRATOR_STARTED = 14, 15, 12


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    with DevHostProcess(APP, state_dir=tmp_path_factory.mktemp("entities-state")) as running:
        yield running


def signal(host: DevHostProcess, name: str, key: str, op: str, value: Any = None) -> None:
    """Signal as the SDK's client does: the input double-encoded as a JSON body."""
    body = json.dumps(json.dumps(value)) if value is not None else None
    response = host.http.post(
        host.url(f"{DURABLE}/entities/{name}/{key}?op={op}"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202, response.text


def read(host: DevHostProcess, name: str, key: str) -> tuple[int, Any]:
    response = host.http.get(host.url(f"{DURABLE}/entities/{name}/{key}"), timeout=30)
    return response.status_code, response.json() if response.status_code == 200 else None


def run(host: DevHostProcess, name: str, value: Any) -> dict[str, Any]:
    status = host.wait_for(host.start_orchestration(name, value), timeout=30)
    assert status["runtimeStatus"] == "Completed", status
    return status


def test_calls_and_signals_from_an_orchestrator(host: DevHostProcess) -> None:
    status = run(host, "call_and_signal", "cs")
    # The two signals were sent before the call, so they ran first.
    assert status["output"] == {"after_add": 13, "total": 13}
    history = host.raw_history(status["instanceId"])
    sent = [e for e in history if e["EventType"] == EVENT_SENT]
    assert [e["EventId"] for e in sent] == [0, 1, 2, 3]
    assert {(e["InstanceId"], e["Name"]) for e in sent} == {("@counter@cs", "op")}
    requests = [json.loads(e["Input"]) for e in sent]
    execution = history[1]["OrchestrationInstance"]["ExecutionId"]
    assert requests[0] == {
        "op": "add",
        "signal": True,
        "input": '"1"',
        "id": requests[0]["id"],
        "parent": status["instanceId"],
        "parentExecution": execution,
    }
    assert [r.get("signal", False) for r in requests] == [True, True, False, False]
    assert [r["op"] for r in requests] == ["add", "add", "add", "get"]
    # call_entity(e, "get") sends the SDK's "null", which the extension serializes again.
    assert requests[3]["input"] == '"null"'
    # Request ids are the extension's NewGuid: instance, episode time and a counter.
    first_episode = next(e for e in history if e["EventType"] == ORCHESTRATOR_STARTED)
    start = parse_timestamp(first_episode["Timestamp"])
    assert [r["id"] for r in requests[:3]] == [
        entity_wire.request_id(status["instanceId"], start, n) for n in range(3)
    ]
    responses = {e["Name"]: e["Input"] for e in history if e["EventType"] == EVENT_RAISED}
    assert responses == {requests[2]["id"]: '{"result":"13"}', requests[3]["id"]: '{"result":"13"}'}
    assert read(host, "counter", "cs") == (200, 13)


def test_a_failing_operation_reaches_the_caller_and_keeps_earlier_state(
    host: DevHostProcess,
) -> None:
    status = run(host, "failing_call", "fail")
    assert status["output"] == {"error": "counter refused at 5", "total": 5}
    history = host.raw_history(status["instanceId"])
    responses = [json.loads(e["Input"]) for e in history if e["EventType"] == EVENT_RAISED]
    assert responses == [
        {"result": '"counter refused at 5"', "exceptionType": "Error"},
        {"result": "5"},
    ]


def test_a_class_style_entity(host: DevHostProcess) -> None:
    status = run(host, "bank", "acct")
    assert status["output"] == {
        "refused": "insufficient funds: 70 < 500",
        "statement": {"balance": 70, "history": ["+100", "-30"]},
    }
    assert read(host, "account", "acct") == (200, {"balance": 70, "history": ["+100", "-30"]})


def test_concurrent_calls_from_one_orchestration_run_one_at_a_time(host: DevHostProcess) -> None:
    status = run(host, "fan_in", ["fan", 8])
    totals = status["output"]
    assert len(set(totals)) == 8 and totals[-1] == sum(range(1, 9))


def test_fifty_concurrent_client_signals_add_up(host: DevHostProcess) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: signal(host, "counter", "fifty", "add", i), range(1, 51)))
    host.wait_idle()
    assert read(host, "counter", "fifty") == (200, sum(range(1, 51)))


def test_operations_run_in_arrival_order(host: DevHostProcess) -> None:
    for i in range(25):
        signal(host, "Journal", "order", "append", i)
    host.wait_idle()
    assert read(host, "journal", "order") == (200, list(range(25)))


def test_destruct_on_exit_deletes_the_entity(host: DevHostProcess) -> None:
    assert run(host, "destroy", "gone")["output"] == "deleted"
    assert read(host, "counter", "gone") == (404, None)
    sdk = host.http.get(host.url("/api/entities/counter/gone"), timeout=30).json()
    assert sdk == {"exists": False, "state": None}


def test_the_sdk_client_signals_and_reads(host: DevHostProcess) -> None:
    response = host.http.post(host.url("/api/counters/sdk/add"), json=4, timeout=30)
    assert response.status_code == 202
    host.wait_idle()
    sdk = host.http.get(host.url("/api/entities/counter/sdk"), timeout=30).json()
    assert sdk == {"exists": True, "state": 4}
    never = host.http.get(host.url("/api/entities/counter/never"), timeout=30).json()
    assert never == {"exists": False, "state": None}


def test_the_empty_key(host: DevHostProcess) -> None:
    """Signalled without a key in the URL, read back with `$` (HttpApiHandler)."""
    response = host.http.post(
        host.url(f"{DURABLE}/entities/counter?op=add"),
        data=json.dumps(json.dumps(2)),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202
    host.wait_idle()
    assert read(host, "counter", "$") == (200, 2)


def test_unknown_entities_as_the_extension_treats_them(host: DevHostProcess) -> None:
    response = host.http.post(host.url(f"{DURABLE}/entities/nosuch/k?op=add"), timeout=30)
    assert response.status_code == 400
    assert response.json()["Message"].startswith(
        "The function 'nosuch' doesn't exist, is disabled, or is not an entity function."
    )
    bad_key = host.http.post(host.url(f"{DURABLE}/entities/counter/a%23b?op=add"), timeout=30)
    assert bad_key.status_code == 400
    failed = host.wait_for(host.start_orchestration("signal_unknown"), timeout=30)
    assert failed["runtimeStatus"] == "Failed"
    assert "'nosuchentity' doesn't exist" in failed["output"]
    waiting = host.start_orchestration("call_unknown")
    host.wait_idle()
    assert host.status(waiting)["runtimeStatus"] == "Running"
    assert "is not an entity function" in host.logs()


def test_signals_sent_in_a_continue_as_new_episode_are_delivered(host: DevHostProcess) -> None:
    status = run(host, "signal_then_continue", {"key": "can", "round": 0})
    # Three executions each signalled add(1), two of them in the episode that continued as new.
    assert status["output"] == 3
    assert read(host, "counter", "can") == (200, 3)


def test_a_batch_that_fails_as_a_whole_is_retried(host: DevHostProcess, tmp_path: Path) -> None:
    marker = tmp_path / "fragile.marker"
    signal(host, "fragile", "f1", "store", str(marker))
    wait_until(lambda: read(host, "fragile", "f1") == (200, 1), 30, lambda: host.logs()[-3000:])
    # The first invocation ran the operation (the marker exists), failed as a whole, and was
    # logged and retried rather than lost or half-applied.
    assert marker.exists()
    assert "Entity '@fragile@f1': the batch of 1 operation(s) failed and will be retried" in (
        host.logs()
    )


def test_rewind_sends_again_an_entity_call_whose_reply_was_dropped(
    host: DevHostProcess, tmp_path: Path
) -> None:
    data = {"key": "rewound", "marker": str(tmp_path / "fail-once")}
    instance_id = host.start_orchestration("entity_call_and_flaky_step", data)
    assert host.wait_for(instance_id, timeout=30)["runtimeStatus"] == "Failed"
    # The slow operation still ran; its reply reached a Failed instance and was dropped.
    wait_until(lambda: read(host, "counter", "rewound") == (200, 5), 30, "the slow operation")
    host.wait_idle()
    host.rewind(instance_id, "outage over")
    status = host.wait_for(instance_id, frozenset({"Completed"}), timeout=30)
    # The call went out again after the rewind (at-least-once, as for a rerun activity).
    assert status["output"] == [10, "ok"]
    assert read(host, "counter", "rewound") == (200, 10)


def test_entity_state_survives_a_restart(tmp_path: Path) -> None:
    with DevHostProcess(APP, state_dir=tmp_path) as first:
        signal(first, "counter", "durable", "add", 5)
        first.wait_idle()
        assert read(first, "counter", "durable") == (200, 5)
    with DevHostProcess(APP, state_dir=tmp_path) as second:
        assert read(second, "counter", "durable") == (200, 5)
        status = second.wait_for(second.start_orchestration("call_and_signal", "durable"))
        assert status["output"] == {"after_add": 18, "total": 18}


def test_queued_operations_run_after_a_restart(tmp_path: Path) -> None:
    """Requests committed but not yet run when devhost stopped run when it starts again."""
    db = sqlite3.connect(tmp_path / "durable.sqlite3")
    db.executescript(SCHEMA)
    message = entity_wire.request_message(
        "add", entity_wire.orchestration_input("3"), "queued-1", signal=True
    )
    db.execute(
        "INSERT INTO entity_requests (entity_id, request) VALUES (?, ?)",
        ("@counter@queued", json.dumps(message)),
    )
    db.commit()
    db.close()
    with DevHostProcess(APP, state_dir=tmp_path) as second:
        wait_until(lambda: read(second, "counter", "queued") == (200, 3), 30, "three queued")


@pytest.mark.parametrize(
    "crash_at",
    [
        # Commits: recovery, start, episode 1 (three requests), the first batch, episode 2,
        # the second batch, ...: 4 and 6 land on entity batches.
        "store.before_commit:4",
        "store.after_commit:4",
        "store.before_commit:6",
        "store.after_commit:6",
        "episode.after_replay:2",
    ],
)
def test_a_crash_never_loses_or_repeats_an_operation(tmp_path: Path, crash_at: str) -> None:
    """SIGKILL at a commit while calls and signals flow; after a restart every operation
    took effect once and every response arrived once."""
    crashing = DevHostProcess(APP, state_dir=tmp_path, env={"DEVHOST_CRASH_AT": crash_at})
    try:
        # The kill may land while devhost starts or while it answers the start request.
        with contextlib.suppress(requests.RequestException, DevHostError):
            crashing.start()
            crashing.start_orchestration("call_and_signal", "crash", instance_id="crash")
        if crashing.process is not None:
            crashing.process.wait(timeout=30)  # the crash point fires
    finally:
        crashing.close()
    with DevHostProcess(APP, state_dir=tmp_path, env={"DEVHOST_CRASH_AT": ""}) as host:
        if host.status("crash") is None:  # killed before the start was committed
            host.start_orchestration("call_and_signal", "crash", instance_id="crash")
        status = host.wait_for("crash", timeout=30)
        assert status["output"] == {"after_add": 13, "total": 13}
        assert read(host, "counter", "crash") == (200, 13)
        raised = [e for e in host.raw_history("crash") if e["EventType"] == EVENT_RAISED]
        assert len(raised) == 2


def test_entities_under_virtual_time(tmp_path: Path) -> None:
    """Entity batches count as pending work, so virtual time waits for them."""
    with DevHostProcess(APP, state_dir=tmp_path, virtual_time=True) as host:
        status = host.wait_for(host.start_orchestration("call_and_signal", "vt"), timeout=30)
        assert status["output"] == {"after_add": 13, "total": 13}
        signal(host, "counter", "vt", "add", 1)
        host.wait_idle()
        assert read(host, "counter", "vt") == (200, 14)
