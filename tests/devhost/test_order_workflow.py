"""The order workflow end to end: the app at the repository root on devhost, Azurite, real
activities, started over HTTP and from the `orders` Service Bus queue, with virtual time.

What the activities did is read from the orchestration history (FunctionName and Result of
each completed call) and from storage (the payment ledger), never from the test's own stubs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from adapters.factory import (
    OrderAdapters,
    ResultAdapters,
    build_order_adapters,
    build_result_adapters,
)
from adapters.messaging import ServiceBusPublisher
from adapters.payments import SIMULATED, LedgerPaymentProvider
from app_config import StorageConnection, order_storage_names, result_channels, service_bus_settings
from devhost.azurite import Azurite
from devhost.servicebus.client import receive_messages, send_message
from devhost.testing import PROJECT_ROOT, DevHostProcess, WebhookReceiver, wait_until
from domain.payments import DECLINE_PREFIX, charge_key
from domain.webhooks import verify

DURABLE = "/runtime/webhooks/durabletask"
THRESHOLD = 100_000
CUSTOMER = {"name": "E2E Canary", "email": "e2e-canary@example.invalid", "address": "2 Test Rd"}
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
WEBHOOK_KEY = "e2e-webhook-signing-key-0123456789abcdef"
EVENTS = "order-events/Subscriptions/all"

# -- the other half of the feature, read and set up through its own adapters -----------------


def adapters_results(shop: Shop) -> ResultAdapters:
    connection = StorageConnection(connection_string=shop.storage)
    publisher = ServiceBusPublisher(service_bus_settings({"ServiceBusConnection": EMULATOR}))
    return build_result_adapters(connection, result_channels({}), publisher)


def adapters(connection_string: str) -> OrderAdapters:
    connection = StorageConnection(connection_string=connection_string)
    return build_order_adapters(connection, order_storage_names({}), payment_provider=SIMULATED)


def seed_stock(connection_string: str, sku: str, units: int) -> None:
    adapters(connection_string).stock.set_level(sku, units)


def ledger_rows(connection_string: str, order_id: str) -> list[dict[str, Any]]:
    """The order's payment ledger rows: charges and refunds."""
    payments = adapters(connection_string).payments
    assert isinstance(payments, LedgerPaymentProvider)
    return payments.entries(order_id)


def charges(connection_string: str, order_id: str) -> list[dict[str, Any]]:
    return [
        row
        for row in ledger_rows(connection_string, order_id)
        if row["RowKey"] == charge_key(order_id)
    ]


# -- the app on devhost ---------------------------------------------------------------------


@dataclass
class Shop:
    host: DevHostProcess
    env: dict[str, str]
    storage: str

    def post(self, body: dict[str, Any]) -> requests.Response:
        return self.host.http.post(self.host.url("/api/orders"), json=body, timeout=30)

    def send(self, body: dict[str, Any], message_id: str | None = None, **properties: Any) -> bool:
        """Publish as a producer must: personal data through the claim check first, then the
        message with the reference only."""
        body = dict(body)
        customer = body.pop("customer", None)
        if customer is not None:
            body["customer_ref"] = adapters(self.storage).claims.put(body["order_id"], customer)
        result = send_message(
            "orders",
            json.dumps(body),
            message_id=message_id or uuid.uuid4().hex,
            connection="ServiceBusConnection",
            app_dir=PROJECT_ROOT,
            environ=self.env,
            **properties,
        )
        return result.accepted

    def received(self, entity: str, job_id: str) -> list[Any]:
        """Every message on `entity` so far about `job_id` (others are consumed and dropped)."""
        found = []
        while batch := receive_messages(
            entity, max_count=32, max_wait=0.2, app_dir=PROJECT_ROOT, environ=self.env
        ):
            found.extend(m for m in batch if json.loads(m.body).get("job_id") == job_id)
        return found

    def result(self, order_id: str, timeout: float = 60) -> dict[str, Any]:
        status = self.host.wait_for(f"order-{order_id}", timeout=timeout, history=True)
        assert status["runtimeStatus"] == "Completed", status
        return status

    def calls(self, status: dict[str, Any]) -> list[str]:
        """The workflow's steps, in order (publishing results is not a step)."""
        return [
            e["FunctionName"]
            for e in status["historyEvents"]
            if e["EventType"] in ("TaskCompleted", "TaskFailed")
            and e["FunctionName"] not in ("publish_job_update", "deliver_webhook")
        ]

    def step(self, order_id: str) -> str | None:
        status = self.host.status(f"order-{order_id}") or {}
        return (status.get("customStatus") or {}).get("step")


@pytest.fixture(scope="module")
def shop(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    state = tmp_path_factory.mktemp("order-e2e")
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
        # The Service Bus emulator's connection string: devhost serves it with its stand-in.
        "ServiceBusConnection": EMULATOR,
        "WEBHOOK_SIGNING_KEY": WEBHOOK_KEY,
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "DEVHOST_SPANS_FILE": str(state / "spans.jsonl"),
        # azure-functions' opt-in strict codec: it refuses custom-object envelopes, so every
        # input and result crossing the Durable boundary here must be a plain JSON value.
        "AZURE_FUNCTIONS_DURABLE_STRICT_TYPING": "1",
    }
    with DevHostProcess(PROJECT_ROOT, state_dir=state, virtual_time=True, env=env) as host:
        yield Shop(host, env, azurite.connection_string)


@pytest.fixture(scope="module")
def webhooks() -> Iterator[WebhookReceiver]:
    """A caller's webhook receiver on a free loopback port."""
    with WebhookReceiver("/hooks/orders") as receiver:
        yield receiver


@pytest.fixture
def paused(shop: Shop) -> Iterator[Shop]:
    shop.host.set_time(auto_advance=False)
    try:
        yield shop
    finally:
        shop.host.set_time(auto_advance=True)


def new_order(shop: Shop, price: int = 2_500, sku: str | None = None, **extra: Any) -> dict:
    """An order for one unit of a SKU of its own, which has 10 units on the shelf."""
    sku = sku or f"SKU-{uuid.uuid4().hex[:8].upper()}"
    seed_stock(shop.storage, sku, 10)
    return {
        "order_id": f"e2e-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": price}],
        "customer": CUSTOMER,
        **extra,
    }


def stock(shop: Shop, body: dict[str, Any]) -> tuple[int, int]:
    level = adapters(shop.storage).stock.level(body["lines"][0]["sku"])
    return level.available, level.reserved


HAPPY = [
    "record_order",
    "reserve_stock",
    "take_payment",
    "ship_order",
    "send_confirmation",
    "set_order_status",
]


def test_happy_path_over_http(shop: Shop) -> None:
    body = new_order(shop)
    oid = body["order_id"]
    response = shop.post(body)
    assert response.status_code == 202, response.text
    status = shop.result(oid)
    assert shop.calls(status) == HAPPY
    output = status["output"]
    assert output["status"] == "Completed" and output["payment_id"] and output["tracking_id"]
    assert len(charges(shop.storage, oid)) == 1
    assert stock(shop, body) == (9, 1)
    seen = json.dumps(status) + shop.host.http.get(shop.host.url(f"/api/orders/{oid}")).text
    assert all(value not in seen for value in CUSTOMER.values())


def test_payment_declined_releases_stock_and_ships_nothing(shop: Shop) -> None:
    body = new_order(shop, order_id=f"{DECLINE_PREFIX}{uuid.uuid4().hex[:12]}")
    assert shop.post(body).status_code == 202
    status = shop.result(body["order_id"])
    assert status["output"]["status"] == "Failed"
    assert status["output"]["reason"].startswith("payment declined")
    calls = shop.calls(status)
    assert "release_stock" in calls and "ship_order" not in calls
    assert calls[-1] == "set_order_status"
    assert stock(shop, body) == (10, 0)
    assert not [
        r for r in ledger_rows(shop.storage, body["order_id"]) if r.get("status") == "succeeded"
    ]


def test_shipping_failure_refunds_and_releases(shop: Shop) -> None:
    body = new_order(shop, sku=f"NOSHIP-{uuid.uuid4().hex[:6].upper()}")
    assert shop.post(body).status_code == 202
    status = shop.result(body["order_id"])
    assert status["output"]["status"] == "Failed"
    calls = shop.calls(status)
    assert calls[calls.index("ship_order") + 1 :] == [
        "refund_payment",
        "release_stock",
        "set_order_status",
    ]
    assert stock(shop, body) == (10, 0)
    kinds = sorted(row.get("kind") for row in ledger_rows(shop.storage, body["order_id"]))
    assert kinds == ["charge", "refund"]


def test_an_order_above_the_threshold_is_approved(paused: Shop) -> None:
    body = new_order(paused, price=THRESHOLD + 1)
    oid = body["order_id"]
    assert paused.post(body).status_code == 202
    wait_until(lambda: paused.step(oid) == "awaiting_approval")
    paused.host.raise_event(f"order-{oid}", "ApprovalDecision", {"approved": True})
    status = paused.result(oid)
    assert status["output"]["status"] == "Completed"
    assert "ship_order" in paused.calls(status)


def test_an_order_above_the_threshold_is_rejected(paused: Shop) -> None:
    body = new_order(paused, price=THRESHOLD)
    oid = body["order_id"]
    assert paused.post(body).status_code == 202
    wait_until(lambda: paused.step(oid) == "awaiting_approval")
    paused.host.raise_event(f"order-{oid}", "ApprovalDecision", {"approved": False})
    status = paused.result(oid)
    assert status["output"]["status"] == "Rejected"
    calls = paused.calls(status)
    assert "ship_order" not in calls
    assert calls[-3:] == ["refund_payment", "release_stock", "set_order_status"]


def test_no_decision_escalates_then_auto_rejects(shop: Shop) -> None:
    body = new_order(shop, price=THRESHOLD * 2)
    assert shop.post(body).status_code == 202
    status = shop.result(body["order_id"])
    assert status["output"]["status"] == "Rejected"
    calls = shop.calls(status)
    assert calls.count("request_approval") == 2  # the approvers', then at escalation
    assert calls[-3:] == ["refund_payment", "release_stock", "set_order_status"]


def test_a_queue_message_completes_an_order_and_every_channel_reports_it(
    shop: Shop, webhooks: WebhookReceiver
) -> None:
    url, deliveries = webhooks.url, webhooks.deliveries
    body = new_order(shop, callback_url=url)
    oid, job_id, correlation = body["order_id"], f"order-{body['order_id']}", uuid.uuid4().hex
    assert shop.send(body, correlation_id=correlation, reply_to="replies")
    status = shop.result(oid)
    assert shop.calls(status) == HAPPY
    assert len(charges(shop.storage, oid)) == 1
    assert stock(shop, body) == (9, 1)

    # 1. The reply, on the reply queue, with the message's CorrelationId.
    [reply] = wait_until(lambda: shop.received("replies", job_id))
    assert reply.correlation_id == correlation
    assert json.loads(reply.body)["result"] == status["output"]
    assert reply.subject == "order.completed"
    # 2. The topic: every update in order, numbered, with the same CorrelationId.
    events = wait_until(lambda: shop.received(EVENTS, job_id))
    numbered = [json.loads(e.body) for e in sorted(events, key=lambda e: e.sequence_number)]
    assert [(u["sequence"], u["status"]) for u in numbered] == [
        (1, "Received"),
        (2, "Paid"),
        (3, "Shipped"),
        (4, "Completed"),
    ]
    assert {e.correlation_id for e in events} == {correlation}
    assert [e.message_id for e in events] == [f"{job_id}:{n}" for n in (1, 2, 3, 4)]
    # 3. The webhook: once, signed with the key from configuration.
    mine = wait_until(lambda: [d for d in deliveries if job_id.encode() in d.body])
    assert len(mine) == 1
    payload = verify(mine[0].body, mine[0].headers, WEBHOOK_KEY, now=time.time())
    assert payload["event"] == numbered[-1]
    assert payload["correlation_id"] == correlation
    # 4. The status record holds the last update.
    record = adapters_results(shop).status.get(job_id)
    assert record is not None and record.sequence == 4 and record.status == "Completed"
    # 5. The status endpoint.
    view = shop.host.http.get(shop.host.url(f"/api/jobs/{job_id}"), timeout=30).json()
    assert view["runtime_status"] == "Completed" and view["result"] == status["output"]

    # One correlation id in every activity's log lines, and the job's own lines with duration.
    lines = [line for line in shop.host.logs().splitlines() if f"order {oid} " in line]
    assert lines and all(f"[correlation {correlation}]" in line for line in lines)
    assert re.search(
        rf"Job {job_id} completed: type=order instance={job_id} correlation={correlation} "
        r"duration_ms=\d+",
        shop.host.logs(),
    )


def test_a_reply_to_an_undeclared_queue_goes_to_the_reply_queue(shop: Shop) -> None:
    body = new_order(shop)
    job_id = f"order-{body['order_id']}"
    assert shop.send(body, correlation_id="c-undeclared", reply_to="someone-elses-queue")
    shop.result(body["order_id"])
    [reply] = wait_until(lambda: shop.received("replies", job_id))
    assert reply.correlation_id == "c-undeclared"


def test_a_refused_callback_url_is_a_400_before_anything_starts(shop: Shop) -> None:
    body = new_order(shop, callback_url="http://169.254.169.254/latest/meta-data")
    response = shop.post(body)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert any(e["detail"].startswith("callback_url:") for e in response.json()["errors"])
    assert shop.host.status(f"order-{body['order_id']}") is None


def test_one_charge_however_often_the_order_arrives(shop: Shop) -> None:
    body = new_order(shop)
    oid = body["order_id"]
    message_id = uuid.uuid4().hex
    assert shop.send(body, message_id)
    assert not shop.send(body, message_id)  # Service Bus duplicate detection
    shop.result(oid)
    assert shop.send(body)  # a new message id: the starter finds the finished instance
    wait_until(lambda: f"repeats order {oid}" in shop.host.logs())
    assert shop.post(body).status_code == 200
    purged = shop.host.http.delete(shop.host.url(f"{DURABLE}/instances/order-{oid}"), timeout=30)
    assert purged.status_code == 200
    assert shop.send(body)  # nothing to find: the order store stops the new run
    status = shop.result(oid)
    assert status["output"] == {
        "order_id": oid,
        "status": "Completed",
        "reason": "already processed",
    }
    assert shop.calls(status) == ["record_order"]
    assert len(charges(shop.storage, oid)) == 1
    assert stock(shop, body) == (9, 1)  # one reservation
