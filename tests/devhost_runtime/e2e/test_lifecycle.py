"""Suspend, resume, rewind, restart, instance queries and purges: SDK client and management URLs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.testing import DURABLE, PROJECT_ROOT, DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "lifecycle"
EXECUTION_SUSPENDED, EXECUTION_RESUMED, GENERIC_EVENT = 19, 20, 17
TASK_COMPLETED, TASK_FAILED, SUB_COMPLETED, SUB_FAILED, TIMER_FIRED, EVENT_RAISED = (
    5,
    6,
    8,
    9,
    11,
    15,
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    state = tmp_path_factory.mktemp("lifecycle-state")
    journal = state / "journal.jsonl"
    with DevHostProcess(APP, state_dir=state, env={"LIFECYCLE_JOURNAL": str(journal)}) as running:
        running.journal = journal  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path


def start(host: DevHostProcess, name: str, value: Any, instance_id: str = "") -> dict[str, Any]:
    """Start as the SDK does (double-encoded input); the management payload it answers with."""
    path = f"{DURABLE}/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    response = host.http.post(
        host.url(path),
        data=json.dumps(json.dumps(value)),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()


def post(payload: dict[str, Any], key: str, reason: str = "why+not") -> requests.Response:
    return requests.post(payload[key].replace("{text}", reason), timeout=30)


def client_call(
    host: DevHostProcess, operation: str, instance_id: str = "", **body: Any
) -> requests.Response:
    """Run one DurableOrchestrationClient method inside a function (client_ops in the app)."""
    path = f"/api/client/{operation}" + (f"/{instance_id}" if instance_id else "")
    return host.http.post(host.url(path), json=body, timeout=30)


def journal(host: DevHostProcess) -> list[dict[str, Any]]:
    path: Path = host.journal  # type: ignore[attr-defined]
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def kinds(host: DevHostProcess, instance_id: str) -> list[int]:
    return [e["EventType"] for e in host.raw_history(instance_id)]


# Replays a whole stored history through the app in one go, as the next episode would, and
# walks the actions as the engine does; run in a child process so the app is imported there.
FULL_REPLAY = """
import json, sys
from pathlib import Path
import azure.functions as func
from devhost.durable.history import parse_timestamp
from devhost.durable.replay_check import load_app
from devhost.durable.replay_inputs import context_json
from devhost.durable.walk import ActionWalk, HistoryIndex
data = json.load(sys.stdin)
app = load_app(Path(data["app"]))
history = [dict(e, IsPlayed=True) for e in data["history"]]
started = next(e for e in history if e["EventType"] == 0)
body = context_json(history, started["Input"], data["instance_id"], data["parent"])
state = json.loads(app.orchestrators[started["Name"]](func.OrchestrationContext(body)))
walk = ActionWalk(
    HistoryIndex(history),
    parse_timestamp(history[-1]["Timestamp"]),
    started["OrchestrationInstance"]["ExecutionId"],
    app.catalog,
    store_inputs=True,
).run(state.get("actions") or [], state.get("schemaVersion"))
print(json.dumps({"done": state.get("isDone"), "output": state.get("output"),
                  "new": len(walk.new_events), "open": sorted(walk.open_tasks)}))
"""


def replays_to(host: DevHostProcess, instance_id: str) -> dict[str, Any]:
    """What replaying the stored history gives now: done, output, new work, open tasks."""
    history = host.raw_history(instance_id)
    status = host.status(instance_id)
    assert status is not None
    started = next(e for e in history if e["EventType"] == 0)
    parent = ((started.get("ParentInstance") or {}).get("OrchestrationInstance") or {}).get(
        "InstanceId"
    )
    data = {"app": str(APP), "history": history, "instance_id": instance_id, "parent": parent}
    done = subprocess.run(
        [sys.executable, "-c", FULL_REPLAY],
        input=json.dumps(data),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_replays_cleanly(host: DevHostProcess, instance_id: str) -> None:
    """The rewritten history replays to the instance's output with nothing new or open."""
    status = host.status(instance_id)
    assert status is not None
    replayed = replays_to(host, instance_id)
    assert replayed == {"done": True, "output": status["output"], "new": 0, "open": []}


# -- suspend and resume --------------------------------------------------------------------------


def test_suspend_holds_an_event_and_an_activity_completion_until_resume(
    host: DevHostProcess, files: Path
) -> None:
    gate = files / "gate"
    payload = start(host, "step_then_event", str(gate))
    iid = payload["id"]
    wait_until(lambda: any(e["activity"] == "gated_step" for e in journal(host)))
    assert post(payload, "suspendPostUri", "maintenance+window").status_code == 202
    status = host.wait_for(iid, {"Suspended"})
    assert host.http.get(payload["statusQueryGetUri"], timeout=30).status_code == 202
    raised = requests.post(
        payload["sendEventPostUri"].replace("{eventName}", "Go"), json={"go": 1}, timeout=30
    )
    assert raised.status_code == 202
    gate.touch()  # the activity finishes while the instance is suspended
    host.wait_idle()
    status = host.status(iid)
    assert status is not None and status["runtimeStatus"] == "Suspended"
    held = kinds(host, iid)
    assert TASK_COMPLETED not in held and EVENT_RAISED not in held
    suspended = [e for e in host.raw_history(iid) if e["EventType"] == EXECUTION_SUSPENDED]
    assert [e["Reason"] for e in suspended] == ["maintenance window"]
    # The extension refuses to suspend a suspended instance (InvalidOperationException: 500).
    again = post(payload, "suspendPostUri")
    assert again.status_code == 500
    assert "because instance is in the Suspended state" in again.json()["ExceptionMessage"]

    assert post(payload, "resumePostUri", "done").status_code == 202
    status = host.wait_for(iid, history=True)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["stepped", {"go": 1}]
    order = kinds(host, iid)
    resumed = order.index(EXECUTION_RESUMED)
    assert order.index(EXECUTION_SUSPENDED) < resumed < order.index(TASK_COMPLETED)
    assert resumed < order.index(EVENT_RAISED)
    names = [e["EventType"] for e in status["historyEvents"]]
    assert "ExecutionSuspended" in names and "ExecutionResumed" in names
    for key in ("suspendPostUri", "resumePostUri", "terminatePostUri"):
        assert post(payload, key).status_code == 410, key


def test_suspend_and_resume_through_the_sdk_hold_a_sub_orchestration_completion(
    host: DevHostProcess, files: Path
) -> None:
    gate = files / "child-gate"
    iid = host.start_orchestration("gated_parent", str(gate))
    wait_until(
        lambda: any(
            e["activity"] == "gated_step" and e["input"] == str(gate) for e in journal(host)
        )
    )
    assert client_call(host, "suspend", iid).json() is None
    host.wait_for(iid, {"Suspended"})
    refused = client_call(host, "suspend", iid)
    assert refused.status_code == 409
    assert "unexpected status code 500" in refused.json()["exception"]
    gate.touch()
    child = next(e for e in host.raw_history(iid) if e["EventType"] == 7)["InstanceId"]
    assert host.wait_for(child)["runtimeStatus"] == "Completed"
    host.wait_idle()
    assert host.status(iid)["runtimeStatus"] == "Suspended"  # type: ignore[index]
    assert SUB_COMPLETED not in kinds(host, iid)
    assert client_call(host, "resume", iid, reason="carry on").json() is None
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "parent saw stepped"
    resumed = [e for e in host.raw_history(iid) if e["EventType"] == EXECUTION_RESUMED]
    assert [e["Reason"] for e in resumed] == ["carry on"]
    # Resuming a finished instance: 410, which the SDK accepts silently.
    assert client_call(host, "resume", iid).json() is None


def test_resume_of_a_running_instance_is_refused_and_terminate_works_while_suspended(
    host: DevHostProcess,
) -> None:
    iid = host.start_orchestration("waits")
    host.wait_for(iid, {"Running"})
    refused = host.instance_operation(iid, "resume")
    assert refused.status_code == 500
    assert refused.json()["ExceptionType"] == "System.InvalidOperationException"
    assert "because instance is in the Running state" in refused.json()["ExceptionMessage"]
    via_sdk = client_call(host, "resume", iid)
    assert "unexpected status code 500" in via_sdk.json()["exception"]
    host.suspend(iid)
    host.wait_for(iid, {"Suspended"})
    host.raise_event(iid, "Never", "held")
    assert client_call(host, "terminate", iid, reason="no longer needed").json() is None
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "no longer needed"
    assert status["customStatus"] == "waiting"
    assert EVENT_RAISED not in kinds(host, iid)  # the held event goes with the instance


def test_a_timer_that_fires_while_suspended_waits_for_resume_across_a_restart(
    tmp_path: Path,
) -> None:
    with DevHostProcess(APP, state_dir=tmp_path / "state", virtual_time=True) as vhost:
        vhost.set_time(auto_advance=False)
        iid = vhost.start_orchestration("sleeps")
        vhost.wait_for(iid, {"Running"})
        vhost.wait_idle()
        vhost.suspend(iid)
        vhost.wait_for(iid, {"Suspended"})
        vhost.set_time(advance_seconds=2 * 3600)
        vhost.wait_idle()
        assert vhost.status(iid)["runtimeStatus"] == "Suspended"  # type: ignore[index]
        assert TIMER_FIRED not in kinds(vhost, iid)
        vhost.stop()  # the suspension and the held timer survive a restart
        vhost.start()
        vhost.wait_idle()
        assert vhost.status(iid)["runtimeStatus"] == "Suspended"  # type: ignore[index]
        vhost.resume(iid)
        status = vhost.wait_for(iid)
        assert status["runtimeStatus"] == "Completed"
        assert status["output"] == "woke"


# -- rewind --------------------------------------------------------------------------------------


def test_rewind_reruns_the_failed_activity_and_the_history_replays_cleanly(
    host: DevHostProcess, files: Path
) -> None:
    settings = {"counter": str(files / "count"), "failures": 1}
    payload = start(host, "flaky_chain", settings)
    iid = payload["id"]
    failed = host.wait_for(iid)
    assert failed["runtimeStatus"] == "Failed"
    assert "failure 1 of 1" in failed["output"]
    assert post(payload, "rewindPostUri", "fixed+the+cause").status_code == 202
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["BEFORE", "ok after 2", "AFTER"]
    shouted = [e["input"] for e in journal(host) if e["activity"] == "shout"]
    assert shouted.count("before") == 1  # the call that had succeeded is not made again
    history = host.raw_history(iid)
    assert TASK_FAILED not in [e["EventType"] for e in history]
    revive = [e for e in history if e["EventType"] == GENERIC_EVENT]
    assert [e["Data"] for e in revive] == ["fixed the cause"]
    assert [e["EventId"] for e in history if e["EventType"] == 4] == [0, 1, 2]
    assert_replays_cleanly(host, iid)
    # Completed now: a second rewind is refused with 410.
    assert post(payload, "rewindPostUri").status_code == 410


def test_rewind_through_the_sdk_restarts_a_failed_retry_chain(
    host: DevHostProcess, files: Path
) -> None:
    settings = {"counter": str(files / "count"), "failures": 2}
    iid = host.start_orchestration("flaky_with_retry", settings)
    assert host.wait_for(iid)["runtimeStatus"] == "Failed"
    assert client_call(host, "rewind", iid, reason="retry budget raised").json() is None
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["ok after 3", "AFTER RETRY"]
    assert_replays_cleanly(host, iid)


def test_rewinding_a_parent_rewinds_its_failed_child(host: DevHostProcess, files: Path) -> None:
    settings = {"counter": str(files / "count"), "failures": 1}
    iid = host.start_orchestration("flaky_parent", settings)
    assert host.wait_for(iid)["runtimeStatus"] == "Failed"
    child = next(e for e in host.raw_history(iid) if e["EventType"] == 7)["InstanceId"]
    assert host.wait_for(child)["runtimeStatus"] == "Failed"
    host.rewind(iid, "child fixed")
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["PARENT", ["BEFORE", "ok after 2", "AFTER"]]
    assert host.wait_for(child)["runtimeStatus"] == "Completed"
    shouted = [e["input"] for e in journal(host) if e["activity"] == "shout"]
    assert shouted.count("parent") == 1 and shouted.count("before") >= 1
    parent_kinds = kinds(host, iid)
    assert SUB_FAILED not in parent_kinds and SUB_COMPLETED in parent_kinds
    assert_replays_cleanly(host, iid)
    assert_replays_cleanly(host, child)


def test_rewind_of_a_fan_out_reruns_only_what_is_missing(host: DevHostProcess, files: Path) -> None:
    settings = {"counter": str(files / "count"), "failures": 1}
    iid = host.start_orchestration("flaky_fan_out", settings)
    assert host.wait_for(iid)["runtimeStatus"] == "Failed"
    host.wait_idle()  # the other calls of the fan-out finish after the failure
    host.rewind(iid)
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["LEFT", "ok after 2", "RIGHT"]
    assert_replays_cleanly(host, iid)


def test_rewind_refusals(host: DevHostProcess) -> None:
    assert host.instance_operation("nobody", "rewind").status_code == 404
    running = host.start_orchestration("waits")
    host.wait_for(running, {"Running"})
    refused = host.instance_operation(running, "rewind")
    assert refused.status_code == 500
    assert (
        "only supported on failed orchestration instances" in (refused.json()["ExceptionMessage"])
    )
    via_sdk = client_call(host, "rewind", running).json()["exception"]
    assert "Received unexpected payload" in via_sdk
    host.instance_operation(running, "terminate", "stop")
    host.wait_for(running)
    assert host.instance_operation(running, "rewind").status_code == 410
    assert "only supported on failed" in client_call(host, "rewind", running).json()["exception"]
    assert "No instance with ID" in client_call(host, "rewind", "nobody").json()["exception"]


# -- restart -------------------------------------------------------------------------------------


def test_restart_with_a_new_id_and_with_the_same_id(host: DevHostProcess) -> None:
    original = host.start_orchestration("echo", {"name": "ada"}, instance_id="restart-me")
    first = host.wait_for(original)
    assert first["output"]["input"] == {"name": "ada"}
    # The SDK's restart() returns the body of the 202: the new instance's management payload.
    payload = client_call(host, "restart", original).json()
    assert payload["id"] != original
    assert payload["statusQueryGetUri"].startswith(f"http://localhost:{host.port}{DURABLE}")
    fresh = host.wait_for(payload["id"])
    assert fresh["output"] == {"input": {"name": "ada"}, "shouted": "ADA", "id": payload["id"]}

    execution = host.raw_history(original)[1]["OrchestrationInstance"]["ExecutionId"]
    same = client_call(host, "restart", original, new_id=False).json()
    assert same["id"] == original
    again = host.wait_for(original)
    assert again["output"] == first["output"]
    assert host.raw_history(original)[1]["OrchestrationInstance"]["ExecutionId"] != execution
    # With timeout and pollingInterval, restart waits like the create-and-wait URL.
    waited = host.instance_operation(original, "restart", timeout="10", pollingInterval="0.1")
    assert waited.status_code == 200
    assert waited.json()["shouted"] == "ADA" and waited.json()["id"] != original


def test_restart_through_the_management_url_and_its_refusals(host: DevHostProcess) -> None:
    payload = start(host, "waits", None)
    iid = payload["id"]
    host.wait_for(iid, {"Running"})
    restarted = requests.post(payload["restartPostUri"], timeout=30)
    assert restarted.status_code == 202
    assert restarted.headers["Location"] == restarted.json()["statusQueryGetUri"]
    assert restarted.json()["id"] != iid
    host.wait_for(restarted.json()["id"], {"Running"})
    same = host.instance_operation(iid, "restart", restartWithNewInstanceId="false")
    assert same.status_code == 500
    assert same.json()["ExceptionMessage"] == (
        "An Orchestration instance with the status Running already exists."
    )
    through_sdk = client_call(host, "restart", iid, new_id=False).json()["exception"]
    assert "unexpected status code 500" in through_sdk
    unknown = host.instance_operation("nobody", "restart")
    assert unknown.status_code == 400
    assert unknown.json()["Message"] == "InstanceId does not match a valid orchestration instance."
    for running in (iid, restarted.json()["id"]):
        host.instance_operation(running, "terminate", "cleanup")
    host.wait_for(iid)
    assert host.restart(iid, new_instance_id=False) == iid  # a finished instance: replaced
    host.wait_for(iid, {"Running"})
    host.instance_operation(iid, "terminate", "cleanup")


def test_suspend_resume_terminate_status_codes(host: DevHostProcess) -> None:
    for operation in ("suspend", "resume", "terminate"):
        assert host.instance_operation("nobody", operation).status_code == 404
    assert host.instance_operation("nobody", "unknown-op").status_code == 404
    done = host.start_orchestration("echo", {"name": "x"})
    host.wait_for(done)
    for operation in ("suspend", "resume", "terminate"):
        assert host.instance_operation(done, operation).status_code == 410, operation
    assert (
        "No instance with ID 'nobody'" in client_call(host, "suspend", "nobody").json()["exception"]
    )
    assert client_call(host, "suspend", done).json() is None  # the SDK accepts 410


# -- queries and purges --------------------------------------------------------------------------


def pages(host: DevHostProcess, query: str, top: int, between: Any = None) -> list[list[str]]:
    token = ""
    found: list[list[str]] = []
    while True:
        response = host.http.get(
            host.url(f"{DURABLE}/instances/?{query}&top={top}"),
            headers={"x-ms-continuation-token": token} if token else {},
            timeout=30,
        )
        assert response.status_code == 200
        found.append([i["instanceId"] for i in response.json()])
        token = response.headers["x-ms-continuation-token"]
        if not token:
            return found
        if between is not None:
            between(len(found))


def flat(found: list[list[str]]) -> list[str]:
    return list(chain.from_iterable(found))


def test_list_filters_and_continuation_pages(host: DevHostProcess) -> None:
    # The sleeps here separate created times (a duration, not an event): the created-time
    # windows below must hold only this test's instances, early apart from late.
    time.sleep(1.1)
    early = [host.start_orchestration("echo", {"name": f"e{i}"}, f"list-a{i}") for i in range(3)]
    for iid in early:
        host.wait_for(iid)
    early_end = datetime.now(UTC)
    time.sleep(1.1)
    late_start = datetime.now(UTC)
    late = [host.start_orchestration("waits", None, f"list-b{i}") for i in range(4)]
    for iid in late:
        host.wait_for(iid, {"Running"})
    everyone = sorted(early + late)

    seen = pages(host, "instanceIdPrefix=list-", 2)
    assert all(len(p) <= 2 for p in seen)
    assert sorted(chain.from_iterable(seen)) == everyone

    # Instances created or purged between pages do not shift the ones that stay.
    def churn(page_number: int) -> None:
        if page_number == 1:
            host.start_orchestration("echo", {"name": "late"}, "list-c0")
            host.http.delete(host.url(f"{DURABLE}/instances/{seen[0][0]}"), timeout=30)

    churned = flat(pages(host, "instanceIdPrefix=list-", 2, churn))
    assert len(churned) == len(set(churned))
    assert set(everyone) - {seen[0][0]} <= set(churned)
    host.wait_for("list-c0")

    def fmt(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    by_status = flat(pages(host, "instanceIdPrefix=list-&runtimeStatus=Running", 3))
    assert sorted(by_status) == sorted(late)
    after = flat(pages(host, f"instanceIdPrefix=list-&createdTimeFrom={fmt(late_start)}", 2))
    assert sorted(after) == sorted([*late, "list-c0"])
    before = flat(pages(host, f"instanceIdPrefix=list-&createdTimeTo={fmt(early_end)}", 2))
    assert sorted(before) == sorted(set(early) - {seen[0][0]})

    listed = host.http.get(host.url(f"{DURABLE}/instances/?instanceIdPrefix=list-a"), timeout=30)
    assert all(i["input"] is not None for i in listed.json())  # showInput defaults to true
    hidden = host.http.get(
        host.url(f"{DURABLE}/instances/?instanceIdPrefix=list-a&showInput=false"), timeout=30
    )
    assert all(i["input"] is None for i in hidden.json())
    bad = host.http.get(host.url(f"{DURABLE}/instances/?top=0"), timeout=30)
    assert bad.status_code == 400

    sdk_by = client_call(
        host,
        "by",
        prefix="list-",
        statuses=["Running", "Completed"],
        **{"from": late_start.isoformat(), "to": datetime.now(UTC).isoformat()},
    ).json()
    assert sdk_by == sorted([*late, "list-c0"])
    assert set(everyone) - {seen[0][0]} <= set(client_call(host, "all").json())
    for iid in late:
        host.instance_operation(iid, "terminate", "cleanup")


def test_purge_by_range_and_status(host: DevHostProcess) -> None:
    time.sleep(1.1)  # the window below starts after every earlier test's instances
    window_start = datetime.now(UTC)
    done = [host.start_orchestration("echo", {"name": f"p{i}"}) for i in range(2)]
    running = host.start_orchestration("waits")
    for iid in done:
        host.wait_for(iid)
    host.wait_for(running, {"Running"})
    window_end = datetime.now(UTC)
    window = {"from": window_start.isoformat(), "to": window_end.isoformat()}

    def fmt(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    query = f"createdTimeFrom={fmt(window_start)}&createdTimeTo={fmt(window_end)}"
    purged = host.http.delete(
        host.url(f"{DURABLE}/instances/?{query}&runtimeStatus=Completed,Failed"), timeout=30
    )
    assert purged.status_code == 200
    assert purged.json() == {"instancesDeleted": 2}
    assert all(host.status(iid) is None for iid in done)
    assert host.status(running) is not None  # a running instance stays
    none_left = host.http.delete(
        host.url(f"{DURABLE}/instances/?{query}&runtimeStatus=Completed"), timeout=30
    )
    assert none_left.status_code == 404
    assert client_call(host, "purge_by", statuses=["Completed"], **window).json() == 0
    missing_from = host.http.delete(host.url(f"{DURABLE}/instances/?runtimeStatus=Completed"))
    assert missing_from.status_code == 400
    # As Azure Storage: without a terminal status in the filter there is no status filter, so a
    # running instance in the range is purged too.
    assert client_call(host, "purge_by", statuses=["Running"], **window).json() == 1
    assert host.status(running) is None
