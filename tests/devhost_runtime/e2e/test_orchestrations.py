"""Orchestration features on devhost via the SDK's real replay, asserted by outcome and history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.testing import DevHostProcess

APP = Path(__file__).resolve().parents[2] / "apps" / "durable_features"


@pytest.fixture(scope="module", params=["in-process", "replay-process"])
def host(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DevHostProcess]:
    """Every feature twice: replays in a worker process (the default), and in devhost's own."""
    state = tmp_path_factory.mktemp("features-state")
    journal = state / "journal.jsonl"
    with DevHostProcess(
        APP,
        state_dir=state,
        virtual_time=True,
        env={"FEATURES_JOURNAL": str(journal)},
        extra_args=["--no-replay-process"] if request.param == "in-process" else [],
    ) as running:
        running.journal = journal  # type: ignore[attr-defined]
        yield running


def event_types(status: dict) -> list[str]:
    return [e["EventType"] for e in status["historyEvents"]]


def test_chain_runs_activities_in_order_with_custom_status(host: DevHostProcess) -> None:
    status = host.run_orchestration("chain", ["Tokyo", "Seattle", "London"])
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo", "Hello Seattle", "Hello London"]
    assert status["customStatus"] == {"done": 3}
    raw = host.raw_history(status["instanceId"])
    scheduled = [e for e in raw if e["EventType"] == 4]
    assert [(e["EventId"], e["Name"]) for e in scheduled] == [
        (0, "say_hello"),
        (1, "say_hello"),
        (2, "say_hello"),
    ]
    completed = [e for e in raw if e["EventType"] == 5]
    assert [e["TaskScheduledId"] for e in completed] == [0, 1, 2]
    # Each completion arrives in its own episode: OrchestratorStarted (12) opens it.
    assert [e["EventType"] for e in raw[:4]] == [12, 0, 4, 13]


def test_status_history_has_the_extension_shape(host: DevHostProcess) -> None:
    status = host.run_orchestration("chain", ["Tokyo"])
    events = status["historyEvents"]
    assert event_types(status) == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    started, completed, finished = events
    assert started["FunctionName"] == "chain"
    assert "OrchestrationInstance" not in started
    assert completed["FunctionName"] == "say_hello"
    assert completed["Result"] == "Hello Tokyo"
    assert "ScheduledTime" in completed
    assert "TaskScheduledId" not in completed and "EventId" not in completed
    assert finished["OrchestrationStatus"] == "Completed"
    assert finished["Result"] == ["Hello Tokyo"]
    without_output = host.status(status["instanceId"], history=True)["historyEvents"]
    assert "Result" not in without_output[1]


def test_fan_out_fan_in_delivers_completions_in_batches(host: DevHostProcess) -> None:
    count = 60
    status = host.run_orchestration("fan_out", {"count": count})
    assert status["output"] == sum(2 * i for i in range(count))
    raw = host.raw_history(status["instanceId"])
    completions = [e["TaskScheduledId"] for e in raw if e["EventType"] == 5]
    assert sorted(completions) == list(range(count))
    # Every completion that is ready is delivered in the same episode: far fewer episodes
    # than completions (one per completion would make fan-in replay cost quadratic).
    episodes = sum(1 for e in raw if e["EventType"] == 12)
    assert episodes <= count // 4, episodes


def test_retry_options_use_host_side_timers(host: DevHostProcess, tmp_path: Path) -> None:
    spec = {"counter_file": str(tmp_path / "calls"), "fail_times": 2, "attempts": 3}
    status = host.run_orchestration("with_retry", spec)
    assert status["output"] == "succeeded after 3 calls"
    names = {4: "TaskScheduled", 5: "TaskCompleted", 6: "TaskFailed", 10: "TimerCreated"}
    names[11] = "TimerFired"
    kinds = [
        (names[e["EventType"]], e["EventId"], e.get("TaskScheduledId", e.get("TimerId")))
        for e in host.raw_history(status["instanceId"])
        if e["EventType"] in names
    ]
    assert kinds == [
        ("TaskScheduled", 0, None),
        ("TaskFailed", -1, 0),
        ("TimerCreated", 1, None),
        ("TimerFired", -1, 1),
        ("TaskScheduled", 2, None),
        ("TaskFailed", -1, 2),
        ("TimerCreated", 3, None),
        ("TimerFired", -1, 3),
        ("TaskScheduled", 4, None),
        ("TaskCompleted", -1, 4),
    ]


def test_retry_exhausted_surfaces_last_failure(host: DevHostProcess, tmp_path: Path) -> None:
    spec = {"counter_file": str(tmp_path / "calls"), "fail_times": 5, "attempts": 2}
    status = host.run_orchestration("with_retry", spec)
    assert status["runtimeStatus"] == "Completed"
    error = status["output"]["error"]
    assert error.startswith("Activity function 'flaky' failed:  ValueError: flaky failure 2")
    timers = [e for e in status["historyEvents"] if e["EventType"] == "TimerFired"]
    assert len(timers) == 2  # DTFx waits once more after the final failed attempt


def test_activity_failure_can_be_caught(host: DevHostProcess) -> None:
    status = host.run_orchestration("catches_failure")
    assert status["runtimeStatus"] == "Completed"
    reason, _, details = status["output"]["caught"].partition(" \n ")
    # Two spaces after "failed:", as the extension cuts the worker's message.
    assert reason == "Activity function 'always_fails' failed:  RuntimeError: boom"
    parsed = json.loads(details)
    assert parsed["Message"] == " RuntimeError: boom"
    inner = parsed["InnerException"]["Message"]
    assert inner.startswith("Result: Failure\nException: RuntimeError: boom\nStack: ")


def test_orchestrator_exception_fails_the_instance(host: DevHostProcess) -> None:
    status = host.run_orchestration("raises")
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "Orchestrator function 'raises' failed: orchestrator gave up"


def test_uncaught_activity_failure_fails_the_orchestration(host: DevHostProcess) -> None:
    status = host.run_orchestration("unhandled_activity_failure")
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith(
        "Orchestrator function 'unhandled_activity_failure' failed: "
        "Activity function 'always_fails' failed:  RuntimeError: not caught \n {"
    )


def test_calling_an_unknown_activity_waits_forever_and_logs(host: DevHostProcess) -> None:
    """As in Azure: the extension only logs the error and the call never completes."""
    iid = host.start_orchestration("calls_missing_activity")
    host.wait_for(iid, {"Running"})
    host.wait_idle()
    assert host.status(iid)["runtimeStatus"] == "Running"
    assert [e["EventType"] for e in host.raw_history(iid)] == [12, 0, 13]
    assert (
        "The function 'no_such_activity' doesn't exist, is disabled, or is not an activity "
        "function. Additional info: The following are the known activity functions: "
    ) in host.logs()


def test_sub_orchestrations_with_explicit_and_generated_ids(host: DevHostProcess) -> None:
    status = host.run_orchestration("parent", instance_id="family-1")
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {
        "first": ["Hello Paris"],
        "second": ["Hello Rome", "Hello Oslo"],
        "children": [2, 6],
    }
    raw = host.raw_history("family-1")
    created = [e for e in raw if e["EventType"] == 7]
    assert created[0]["InstanceId"] == "family-1-child"
    execution = raw[1]["OrchestrationInstance"]["ExecutionId"]
    assert created[1]["InstanceId"] == f"{execution}:1"
    child = host.status("family-1-child")
    assert child["runtimeStatus"] == "Completed"
    assert child["output"] == ["Hello Paris"]


def test_sub_orchestration_retry_and_failure(host: DevHostProcess) -> None:
    status = host.run_orchestration("parent_of_failure")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["caught"].startswith(
        "Orchestrator function 'raises' failed: orchestrator gave up \n Message: orchestrator"
    )
    created = [e for e in host.raw_history(status["instanceId"]) if e["EventType"] == 7]
    assert len(created) == 2
    assert created[0]["InstanceId"] != created[1]["InstanceId"]


def test_terminating_a_child_fails_the_parents_call(host: DevHostProcess) -> None:
    iid = host.start_orchestration("parent_of_waiter", instance_id="waiter-parent")
    host.wait_for("waiter-parent-child", {"Running"})
    host.http.post(
        host.url(
            "/runtime/webhooks/durabletask/instances/waiter-parent-child/terminate?reason=stop"
        )
    )
    status = host.wait_for(iid)
    assert status["output"] == {"caught": "stop \n None"}  # reason, no details


def test_virtual_time_runs_a_three_day_timer_at_once(host: DevHostProcess) -> None:
    status = host.run_orchestration("timer", 3 * 24 * 3600, timeout=20)
    # The episode that delivers the timer starts at (or just after) its fire time.
    assert 3 * 24 * 3600 <= status["output"] < 3 * 24 * 3600 + 5
    fired = [e for e in status["historyEvents"] if e["EventType"] == "TimerFired"]
    assert len(fired) == 1


def test_task_any_with_cancelled_timer(host: DevHostProcess) -> None:
    status = host.run_orchestration("race")
    assert status["output"] == "Hello fast"
    # The cancelled 3-day timer did not hold the instance open.
    assert not [e for e in host.raw_history(status["instanceId"]) if e["EventType"] == 11]


def test_an_uncancelled_timer_keeps_the_instance_running(host: DevHostProcess) -> None:
    """DTFx completes an orchestration only when no scheduled task is left open."""
    host.set_time(auto_advance=False)
    try:
        iid = host.start_orchestration("race", {"cancel": False})
        host.wait_idle()
        assert host.status(iid)["runtimeStatus"] == "Running"
        host.set_time(advance_seconds=3 * 24 * 3600 + 1)
        status = host.wait_for(iid)
    finally:
        host.set_time(auto_advance=True)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "Hello fast"


def test_external_event_before_timeout(host: DevHostProcess) -> None:
    host.set_time(auto_advance=False)
    try:
        iid = host.start_orchestration("approval", 72 * 3600)
        host.wait_for(iid, {"Running"})
        host.wait_idle()
        host.raise_event(iid, "Approval", {"approved": True})
        status = host.wait_for(iid)
    finally:
        host.set_time(auto_advance=True)
    assert status["output"] == {"decision": {"approved": True}}


def test_external_event_timeout_in_virtual_time(host: DevHostProcess) -> None:
    status = host.run_orchestration("approval", 72 * 3600)
    assert status["output"] == {"decision": "timed out"}


def test_events_raised_before_the_wait_are_buffered(host: DevHostProcess) -> None:
    iid = host.start_orchestration("collect_events", {"count": 3, "work_first": 0.5})
    for index, value in enumerate(("a", "b", "c")):
        host.raise_event(iid, f"Item{index}", value)
    status = host.wait_for(iid)
    assert status["output"] == ["a", "b", "c"]
    raised = [e for e in status_history(host, iid) if e["EventType"] == "EventRaised"]
    assert [e["Name"] for e in raised] == ["Item0", "Item1", "Item2"]


def test_same_name_events_before_the_waits_reproduce_the_sdk_quirk(host: DevHostProcess) -> None:
    """The SDK keeps one deferred event per name, so each early wait sees the last one.

    Azure gives the same history, so the same result; docs/devhost.md warns app authors.
    """
    iid = host.start_orchestration(
        "collect_events", {"count": 3, "work_first": 0.5, "name": "Same"}
    )
    for value in (1, 2, 3):
        host.raise_event(iid, "Same", value)
    assert host.wait_for(iid)["output"] == [3, 3, 3]


def status_history(host: DevHostProcess, instance_id: str) -> list[dict]:
    return host.status(instance_id, history=True, history_output=True)["historyEvents"]


def test_continue_as_new_restarts_with_new_input(host: DevHostProcess) -> None:
    status = host.run_orchestration("counter", {"n": 0, "total": 0, "limit": 5})
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"n": 5, "total": 2 * (0 + 1 + 2 + 3 + 4), "limit": 5}
    assert status["customStatus"] is None  # each episode reports what its replay set
    # Only the last execution's history remains.
    assert len([e for e in status["historyEvents"] if e["EventType"] == "TaskCompleted"]) == 1


def test_replay_is_deterministic(host: DevHostProcess) -> None:
    status = host.run_orchestration("determinism", instance_id="det-1")
    out = status["output"]
    assert out["instance"] == "det-1"
    assert out["replaying"] == [True, True, False]
    assert len(set(out["ids"])) == 3
    assert out["times"] == sorted(out["times"])
    episodes = [e["Timestamp"] for e in host.raw_history("det-1") if e["EventType"] == 12]
    assert len(episodes) == 3  # one value of current_utc_datetime per episode


def test_durable_names_from_binding_properties(host: DevHostProcess) -> None:
    status = host.run_orchestration("renamed_orchestration")
    assert status["output"] == "X"


def test_activity_concurrency_is_limited_by_host_json(host: DevHostProcess) -> None:
    status = host.run_orchestration("concurrency")
    assert status["output"] == 3  # maxConcurrentActivityFunctions in the app's host.json


def test_instances_progress_in_parallel(host: DevHostProcess) -> None:
    ids = [host.start_orchestration("fan_out", {"count": 4, "sleep": 0.3}) for _ in range(3)]
    results = [host.wait_for(i) for i in ids]
    assert [r["output"] for r in results] == [12, 12, 12]


def test_journal_counts_one_execution_per_activity(host: DevHostProcess) -> None:
    before = host.journal.read_text().count("\n") if host.journal.exists() else 0
    host.run_orchestration("chain", ["J1", "J2"])
    lines = host.journal.read_text().splitlines()[before:]
    inputs = [json.loads(line)["input"] for line in lines]
    assert inputs == ["J1", "J2"]
