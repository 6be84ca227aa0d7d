"""The SDK's DurableOrchestrationClient against devhost: every call, URL and status code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.testing import DURABLE, DevHostProcess

APP = Path(__file__).resolve().parents[2] / "apps" / "durable_features"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    with DevHostProcess(APP, state_dir=tmp_path_factory.mktemp("client-state")) as running:
        yield running


def client_call(
    host: DevHostProcess, operation: str, instance_id: str = "", **body: Any
) -> requests.Response:
    """Run one client method inside a function (see client_ops in the test app)."""
    path = f"/api/client/{operation}" + (f"/{instance_id}" if instance_id else "")
    return host.http.post(host.url(path), json=body, timeout=30)


def test_http_starter_returns_202_with_urls_that_work(host: DevHostProcess) -> None:
    response = host.http.post(host.url("/api/orchestrators/chain"), json=["Ada"], timeout=30)
    assert response.status_code == 202
    payload = response.json()
    assert set(payload) == {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "rewindPostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }
    assert response.headers["Location"] == payload["statusQueryGetUri"]
    assert response.headers["Retry-After"] == "10"
    # The SDK rewrites the links to the caller's origin.
    assert payload["statusQueryGetUri"].startswith(host.base_url + DURABLE + "/instances/")
    status = host.wait_for(payload["id"])
    assert status["output"] == ["Hello Ada"]
    followed = host.http.get(payload["statusQueryGetUri"], timeout=30)
    assert followed.status_code == 200
    assert followed.json()["output"] == ["Hello Ada"]
    purge = host.http.delete(payload["purgeHistoryDeleteUri"], timeout=30)
    assert purge.json() == {"instancesDeleted": 1}
    assert host.http.get(payload["statusQueryGetUri"], timeout=30).status_code == 404


def test_management_urls_raise_and_terminate(host: DevHostProcess) -> None:
    response = host.http.post(host.url("/api/orchestrators/waits_forever"), timeout=30)
    payload = response.json()
    running = host.http.get(payload["statusQueryGetUri"], timeout=30)
    assert running.status_code == 202
    assert running.headers["Retry-After"] == "5"
    raised = host.http.post(
        payload["sendEventPostUri"].replace("{eventName}", "Other"), json={"x": 1}, timeout=30
    )
    assert raised.status_code == 202
    terminate_url = payload["terminatePostUri"].replace("{text}", "enough+said")
    assert host.http.post(terminate_url, timeout=30).status_code == 202
    status = host.wait_for(payload["id"])
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "enough said"
    assert status["customStatus"] == {"stage": "waiting"}
    again = host.http.post(payload["sendEventPostUri"].replace("{eventName}", "X"), json=1)
    assert again.status_code == 410


def test_lifecycle_urls_of_a_completed_instance(host: DevHostProcess) -> None:
    """More in test_lifecycle.py: suspend, resume and rewind refuse a Completed instance with
    410; restart starts it again under a new id."""
    payload = host.http.post(host.url("/api/orchestrators/chain"), json=["x"]).json()
    host.wait_for(payload["id"])
    for key in ("rewindPostUri", "suspendPostUri", "resumePostUri"):
        response = host.http.post(payload[key].replace("{text}", "why"), timeout=30)
        assert response.status_code == 410, key
    restarted = host.http.post(payload["restartPostUri"], timeout=30)
    assert restarted.status_code == 202
    assert host.wait_for(restarted.json()["id"])["output"] == ["Hello x"]


def test_get_status_with_history_and_input(host: DevHostProcess) -> None:
    iid = host.start_orchestration("chain", ["Bo"], instance_id="client-status-1")
    host.wait_for(iid)
    result = client_call(host, "status", iid, history=True, history_output=True, input=True).json()
    assert result["found"] is True
    assert result["runtimeStatus"] == "Completed"
    assert result["output"] == ["Hello Bo"]
    # The SDK's double encoding: the status shows the input's JSON text.
    assert json.loads(result["input"]) == ["Bo"]
    kinds = [e["EventType"] for e in result["history"]]
    assert kinds == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert result["history"][1]["Result"] == "Hello Bo"
    missing = client_call(host, "status", "no-such-instance").json()
    assert missing == {"found": False}


def test_get_status_all_and_by_filters(host: DevHostProcess) -> None:
    done = host.start_orchestration("chain", ["C"], instance_id="filter-done")
    host.wait_for(done)
    waiting = host.start_orchestration("waits_forever", instance_id="filter-waiting")
    host.wait_for(waiting, {"Running"})
    everything = client_call(host, "all").json()
    assert {"filter-done", "filter-waiting"} <= set(everything)
    by_prefix = client_call(host, "by", prefix="filter-").json()
    assert by_prefix == ["filter-done", "filter-waiting"]
    running = client_call(host, "by", prefix="filter-", statuses=["Running"]).json()
    assert running == ["filter-waiting"]


def test_raise_event_through_the_sdk_is_double_encoded(host: DevHostProcess) -> None:
    """raise_event json.dumps its data and the extension parses the body once (issue #295)."""
    iid = host.start_orchestration("collect_events", {"count": 1, "name": "Data"})
    host.wait_for(iid, {"Running"})
    assert client_call(host, "raise", iid, event="Data", data={"ok": 1}).status_code == 200
    assert host.wait_for(iid)["output"] == ['{"ok": 1}']


def test_raise_event_refusals(host: DevHostProcess) -> None:
    unknown = client_call(host, "raise", "nobody-here", event="E", data=1)
    assert unknown.status_code == 409
    assert "No instance with ID nobody-here found" in unknown.json()["exception"]  # SDK text
    finished = host.start_orchestration("chain", ["D"])
    host.wait_for(finished)
    gone = client_call(host, "raise", finished, event="E", data=1)
    assert gone.status_code == 409
    assert "gone" in gone.json()["exception"].lower()


def test_terminate_and_purge_through_the_sdk(host: DevHostProcess) -> None:
    iid = host.start_orchestration("waits_forever")
    host.wait_for(iid, {"Running"})
    assert client_call(host, "terminate", iid, reason="42").json() == "terminated"
    status = host.wait_for(iid)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == 42  # a reason that parses as JSON is shown as JSON
    assert client_call(host, "purge", iid).json() == 1
    assert client_call(host, "purge", iid).json() == 0  # 404 becomes 0 in the SDK


def test_purge_by_status(host: DevHostProcess) -> None:
    ids = [host.start_orchestration("raises") for _ in range(2)]
    for iid in ids:
        host.wait_for(iid)
    assert client_call(host, "purge_by", statuses=["Failed"]).json() >= 2
    assert all(host.status(iid) is None for iid in ids)


def test_start_new_refuses_a_running_id_and_replaces_a_finished_one(host: DevHostProcess) -> None:
    host.start_orchestration("waits_forever", instance_id="dup-1")
    host.wait_for("dup-1", {"Running"})
    refused = client_call(host, "start", "dup-1", name="waits_forever")
    assert refused.status_code == 409
    assert (
        "An Orchestration instance with the status Running already exists."
        in (refused.json()["exception"])
    )
    client_call(host, "terminate", "dup-1", reason="done")
    host.wait_for("dup-1")
    first_execution = host.raw_history("dup-1")[1]["OrchestrationInstance"]["ExecutionId"]
    assert client_call(host, "start", "dup-1", name="chain", input=["E"]).json() == "dup-1"
    status = host.wait_for("dup-1")
    assert status["output"] == ["Hello E"]
    second = host.raw_history("dup-1")[1]["OrchestrationInstance"]["ExecutionId"]
    assert second != first_execution  # the finished instance was replaced


def test_start_refusals_use_the_extension_codes(host: DevHostProcess) -> None:
    unknown = host.http.post(host.url(f"{DURABLE}/orchestrators/not_there"), timeout=30)
    assert unknown.status_code == 400
    assert "The function 'not_there' doesn't exist" in unknown.json()["ExceptionMessage"]
    bad_id = host.http.post(host.url(f"{DURABLE}/orchestrators/chain/@bad"), timeout=30)
    assert bad_id.status_code == 400
    through_sdk = client_call(host, "start", name="not_there")
    assert through_sdk.status_code == 409
    assert "is not an orchestrator function" in through_sdk.json()["exception"]


def test_client_binding_points_the_sdk_at_devhost(host: DevHostProcess) -> None:
    config = client_call(host, "config").json()
    assert config["taskHub"] == "FeaturesHub"  # from the app's host.json
    assert config["rpcBaseUrl"] == f"http://localhost:{host.port}{DURABLE}/"
    create = config["creationUrls"]["createNewInstancePostUri"]
    assert create.startswith(
        f"http://localhost:{host.port}{DURABLE}/orchestrators/{{functionName}}"
    )


def test_create_http_management_payload(host: DevHostProcess) -> None:
    payload = client_call(host, "payload", "some-id").json()
    assert payload["id"] == "some-id"
    assert payload["statusQueryGetUri"].startswith(
        f"http://localhost:{host.port}{DURABLE}/instances/some-id?"
    )


def test_wait_for_completion_or_check_status(host: DevHostProcess) -> None:
    done = host.start_orchestration("chain", ["W"])
    response = client_call(host, "wait", done, timeout_ms=5000)
    assert response.status_code == 200
    assert response.json() == ["Hello W"]
    pending = host.start_orchestration("waits_forever")
    response = client_call(host, "wait", pending, timeout_ms=300)
    assert response.status_code == 202
    assert response.json()["id"] == pending


def test_create_and_wait_url(host: DevHostProcess) -> None:
    url = host.url(f"{DURABLE}/orchestrators/chain?timeout=10&pollingInterval=1")
    response = host.http.post(url, json=json.dumps(["Q"]), timeout=30)
    assert response.status_code == 200
    assert response.json() == ["Hello Q"]
    waiting = host.http.post(
        host.url(f"{DURABLE}/orchestrators/waits_forever?timeout=0.3&pollingInterval=0.1")
    )
    assert waiting.status_code == 202


def test_list_pages_with_continuation_tokens(host: DevHostProcess) -> None:
    for index in range(3):
        host.start_orchestration("waits_forever", instance_id=f"page-{index}")
    url = host.url(f"{DURABLE}/instances/?instanceIdPrefix=page-&top=2")
    first = host.http.get(url, timeout=30)
    token = first.headers["x-ms-continuation-token"]
    assert [i["instanceId"] for i in first.json()] == ["page-0", "page-1"]
    assert token
    second = host.http.get(url, headers={"x-ms-continuation-token": token}, timeout=30)
    assert [i["instanceId"] for i in second.json()] == ["page-2"]
    assert second.headers["x-ms-continuation-token"] == ""
