"""Which task hub an order's calls reach: the SDK's real client, its HTTP calls recorded."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import azure.durable_functions as df
import pytest

from adapters import telemetry
from triggers import task_hubs
from triggers.task_hubs import EXPRESS, MAIN, on_hub, with_task_hub

RPC = "http://127.0.0.1:17071/durabletask/"
# The binding data the extension gives a Python durable client: calls go to the local RPC
# endpoint, whose URLs name no task hub (BindingHelper.DurableOrchestrationClientToString).
BINDING = json.dumps(
    {
        "taskHubName": "JobsHub",
        "creationUrls": {},
        "managementUrls": {"id": "INSTANCEID"},
        "baseUrl": "http://127.0.0.1:7071/runtime/webhooks/durabletask",
        "requiredQueryStringParameters": "code=k",
        "rpcBaseUrl": RPC,
    }
)


class Calls:
    """Stands in for the SDK's HTTP functions: records each URL; no instance exists."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def get(self, url: str, *args: Any, **kwargs: Any) -> list[Any]:
        self.urls.append(url)
        return [404, "No instance with this id"]

    async def post(self, url: str, *args: Any, **kwargs: Any) -> list[Any]:
        self.urls.append(url)
        return [202, {"id": "order-a"}]


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def client(calls: Calls) -> df.DurableOrchestrationClient:
    sdk_client = df.DurableOrchestrationClient(BINDING)
    sdk_client._get_async_request = calls.get  # the SDK's own seam for its HTTP calls
    sdk_client._post_async_request = calls.post
    return sdk_client


@pytest.fixture(autouse=True)
def hubs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ROLE", "main")
    monkeypatch.setenv("EXPRESS_TASK_HUB_NAME", "JobsExpress")


def test_the_express_hub_is_named_on_every_call(
    client: df.DurableOrchestrationClient, calls: Calls
) -> None:
    express = on_hub(client, EXPRESS)

    async def calls_made() -> None:
        await express.get_status("order-a")
        await express.start_new("process_order", "order-a", {"x": 1})
        await express.raise_event("order-a", "CancelOrder", {"reason": "r"})
        await express.terminate("order-a", "why")

    asyncio.run(calls_made())

    assert [url.split("?")[0].removeprefix(RPC) for url in calls.urls] == [
        "instances/order-a",
        "orchestrators/process_order/order-a",
        "instances/order-a/raiseEvent/CancelOrder",
        "instances/order-a/terminate",
    ]
    assert all(url.count("taskHub=JobsExpress") == 1 for url in calls.urls), calls.urls


def test_the_apps_own_hub_is_the_client_itself(
    client: df.DurableOrchestrationClient, calls: Calls
) -> None:
    assert on_hub(client, MAIN) is client
    asyncio.run(client.get_status("order-a"))
    assert "taskHub" not in calls.urls[0]  # the extension then serves the app's own hub


def test_the_express_app_never_reaches_the_main_hub(
    client: df.DurableOrchestrationClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ROLE", "express")
    assert on_hub(client, EXPRESS) is client
    with pytest.raises(ValueError, match="does not reach the main task hub"):
        on_hub(client, MAIN)


def test_without_the_express_hub_setting_the_error_names_it(
    client: df.DurableOrchestrationClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPRESS_TASK_HUB_NAME")
    with pytest.raises(ValueError, match="EXPRESS_TASK_HUB_NAME"):
        on_hub(client, EXPRESS)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (RPC + "instances/x", RPC + "instances/x?taskHub=JobsExpress"),
        (RPC + "x?showInput=true", RPC + "x?showInput=true&taskHub=JobsExpress"),
        (RPC + "instances/x?", RPC + "instances/x?taskHub=JobsExpress"),
        (RPC + "instances/x?TaskHub=Other", RPC + "instances/x?TaskHub=Other"),
    ],
)
def test_with_task_hub(url: str, expected: str) -> None:
    assert with_task_hub(url, "JobsExpress") == expected


class Orders:
    """The order store's hub claims, in memory."""

    def __init__(self, hubs: dict[str, str]) -> None:
        self.hubs = hubs

    def hub_of(self, order_id: str) -> str | None:
        return self.hubs.get(order_id)


@pytest.mark.parametrize(
    ("instance_id", "claims", "hub"),
    [
        ("order-fast-1", {"fast-1": "express"}, "JobsExpress"),
        ("order-slow-1", {"slow-1": "main"}, None),
        ("order-old-1", {}, None),  # no claim: started before the express app, in main
        ("monitor-1", {"1": "express"}, None),  # only orders run in the express hub
        ("order-bad/id", {"bad/id": "express"}, None),  # not an order id: never a table key
    ],
)
def test_an_order_is_reached_in_the_hub_that_claimed_it(
    client: df.DurableOrchestrationClient,
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
    instance_id: str,
    claims: dict[str, str],
    hub: str | None,
) -> None:
    monkeypatch.setattr(task_hubs.root, "orders", lambda: SimpleNamespace(orders=Orders(claims)))

    routed = asyncio.run(task_hubs.client_for(client, instance_id))
    asyncio.run(routed.get_status(instance_id))

    if hub is None:
        assert "taskHub" not in calls.urls[0]
    else:
        assert calls.urls[0].endswith(f"?taskHub={hub}")


def test_every_hub_covers_main_and_express(
    client: df.DurableOrchestrationClient, calls: Calls
) -> None:
    for hub_client in task_hubs.every_hub(client):
        asyncio.run(hub_client.get_status("retention-x"))
    assert ["taskHub=JobsExpress" in url for url in calls.urls] == [False, True]


def test_the_express_app_records_its_orders_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[tuple[float, dict[str, str]]] = []
    monkeypatch.setattr(
        telemetry.express_latency, "record", lambda value, attrs: recorded.append((value, attrs))
    )
    metrics = telemetry.JobLogMetrics()
    log = logging.getLogger("tests.express_latency")
    log.addFilter(metrics)
    log.setLevel(logging.INFO)
    enqueued = (datetime.now(UTC) - timedelta(seconds=3)).isoformat()

    def order_ends(job_type: str = "order") -> None:
        fields = {"job_type": job_type, "duration_ms": 900, "enqueued_at": enqueued}
        log.info("Job %s %s", "order-1", "completed", extra={"job": fields})

    order_ends()  # the main app: no express latency
    metrics.express_orders = True
    order_ends()
    order_ends("monitor")
    assert len(recorded) == 1
    latency, attributes = recorded[0]
    assert 3 <= latency < 60 and attributes == {telemetry.ATTR_JOB_OUTCOME: "completed"}
