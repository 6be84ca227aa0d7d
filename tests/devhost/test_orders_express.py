"""The `orders-express` queue: the express app starts its orders, marked express, in its hub.

Runs the real triggers and orchestrator over the stub activities of tests/apps/order_stubs in
both roles (the main app and the express app, each a devhost with its own task hub, one
Azurite), with the Service Bus stand-in and the real queue declaration (infra/servicebus.json).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.factory import build_rejected_messages
from adapters.rejected_messages import RejectedMessage
from app_config import StorageConnection
from devhost.azurite import Azurite
from devhost.servicebus.client import peek_dead_letters, send_message
from devhost.servicebus.models import SendResult
from devhost.testing import PROJECT_ROOT, DevHostProcess, stand_in_settled, wait_until

APP = Path(__file__).resolve().parent.parent / "apps" / "order_stubs"
EXPRESS = "orders-express"
CANARY = {"name": "Canary Person", "email": "canary@example.invalid", "address": "1 Canary Row"}


@dataclass
class Queues:
    host: DevHostProcess  # the express app
    main: DevHostProcess
    folder: Path
    env: dict[str, str]
    azurite: Azurite

    def send(self, queue: str, body: Any, **kwargs: Any) -> SendResult:
        data = body if isinstance(body, bytes) else json.dumps(body)
        kwargs.setdefault("message_id", uuid.uuid4().hex)
        return send_message(
            queue, data, connection="ServiceBusConnection", app_dir=APP, environ=self.env, **kwargs
        )

    def rejected(self, queue: str, message_id: str) -> list[RejectedMessage]:
        connection = StorageConnection(connection_string=self.azurite.connection_string)
        store = build_rejected_messages(connection, "rejectedmessages")
        return [r for r in store.for_queue(queue) if r.message_id == message_id]

    def dead_letters(self, queue: str) -> list[str]:
        letters, _ = peek_dead_letters(
            queue, connection="ServiceBusConnection", app_dir=APP, environ=self.env
        )
        return [letter.message_id for letter in letters]

    def calls(self, order_id: str, activity: str) -> list[dict[str, Any]]:
        path = self.folder / "calls.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [
            r["payload"] for r in rows if r["order_id"] == order_id and r["activity"] == activity
        ]

    def finished(self, order_id: str) -> dict[str, Any]:
        return self.host.wait_for(f"order-{order_id}", timeout=30)


@pytest.fixture(scope="module")
def queues(
    tmp_path_factory: pytest.TempPathFactory,
    azurite: Azurite,
    both_apps: Callable[..., AbstractContextManager[Any]],
) -> Iterator[Queues]:
    folder = tmp_path_factory.mktemp("orders-express")
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(PROJECT_ROOT / "infra" / "servicebus.json"),
        "ORDER_STUBS_DIR": str(folder),
        "ORDER_APPROVAL_THRESHOLD_CENTS": "100000",
    }
    with both_apps(APP, state_dir=folder / "state", virtual_time=True, env=env) as apps:
        yield Queues(apps.express, apps.main, folder, env, azurite)


def message_body(**extra: Any) -> dict[str, Any]:
    order_id = f"x-{uuid.uuid4().hex[:12]}"
    body = {
        "order_id": order_id,
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 2_500}],
        "customer_ref": f"claim://orders-private/customers/{order_id}.json",
    }
    return {**body, **extra}


def test_an_express_message_completes_an_order_marked_express(queues: Queues) -> None:
    body = message_body()
    oid = body["order_id"]
    assert queues.send(EXPRESS, body, correlation_id="corr-express").accepted
    status = queues.finished(oid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["status"] == "Completed"
    started = json.loads(status["input"])
    assert started["order"]["express"] is True
    assert started["correlation_id"] == "corr-express"
    assert started["order"]["customer_ref"] == body["customer_ref"]
    (recorded,) = queues.calls(oid, "record_order")
    assert recorded["order"]["express"] is True  # the order record keeps the flag
    assert len(queues.calls(oid, "take_payment")) == 1


def test_one_order_sent_on_both_queues_runs_once(queues: Queues) -> None:
    body = message_body()
    oid = body["order_id"]
    assert queues.send("orders", body).accepted
    assert queues.main.wait_for(f"order-{oid}", timeout=30)["runtimeStatus"] == "Completed"
    assert queues.send(EXPRESS, body).accepted
    # The main hub claimed it first: the express app does not start it again.
    wait_until(lambda: f"on {EXPRESS} repeats order {oid}" in queues.host.logs())
    assert f"Order {oid} runs in the main task hub, not the express hub" in queues.host.logs()
    assert queues.host.status(f"order-{oid}") is None
    assert len(queues.calls(oid, "take_payment")) == 1


def test_sent_on_both_queues_at_once_one_order_runs(queues: Queues) -> None:
    body = message_body()
    oid = body["order_id"]
    assert queues.send(EXPRESS, body).accepted
    assert queues.send("orders", body).accepted
    # Whichever starter claims the order first starts it; the other logs that it runs there.
    wait_until(lambda: f"Order {oid} runs in the" in queues.main.logs() + queues.host.logs())
    (runner,) = [host for host in (queues.main, queues.host) if host.status(f"order-{oid}")]
    assert runner.wait_for(f"order-{oid}", timeout=30)["runtimeStatus"] == "Completed"
    logs = queues.main.logs() + queues.host.logs()
    assert logs.count(f"Order {oid} started as") == 1
    assert len(queues.calls(oid, "take_payment")) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body is not JSON"),
        (
            json.dumps({**message_body(), "customer": CANARY}).encode(),
            "customer: personal data is not accepted in a queue message",
        ),
    ],
)
def test_a_malformed_express_message_is_recorded_under_its_queue(
    queues: Queues, body: bytes, reason: str
) -> None:
    sent = queues.send(EXPRESS, body)
    (row,) = wait_until(lambda: queues.rejected(EXPRESS, sent.message_id))
    assert row.queue == EXPRESS
    assert reason in row.reason
    assert (row.delivery_count, row.body_bytes) == (1, len(body))
    assert CANARY["email"] not in json.dumps(row.__dict__, default=str)
    assert queues.rejected("orders", sent.message_id) == []
    # Completed, not abandoned: gone from the queue with one delivery and no dead letter.
    wait_until(lambda: stand_in_settled(queues.azurite.connection_string, EXPRESS), what="settled")
    assert queues.rejected(EXPRESS, sent.message_id)[0].rejected_at == row.rejected_at
    assert sent.message_id not in queues.dead_letters(EXPRESS)
    assert f"Rejected message {sent.message_id} on {EXPRESS}" in queues.host.logs()


def test_an_express_order_completes_while_normal_orders_wait(queues: Queues) -> None:
    """The priority the express app exists for: normal orders that hold the main hub's workers
    (their payment step waits until the test lets it go) do not delay an express order, which
    its own hub runs."""
    # Fewer than the host's worker threads (min(32, cores + 4)), so all of them wait at once.
    normal = [message_body() for _ in range(4)]
    release = f"release-{uuid.uuid4().hex[:8]}"
    script_file = queues.folder / "script.json"
    script = json.loads(script_file.read_text()) if script_file.exists() else {}
    script.update({body["order_id"]: {"take_payment": [f"wait:{release}"]} for body in normal})
    script_file.write_text(json.dumps(script))
    for body in normal:
        assert queues.send("orders", body).accepted
    wait_until(
        lambda: all(queues.calls(b["order_id"], "take_payment") for b in normal),
        90,
        what=lambda: (
            f"the 4 normal orders at take_payment; main app:\n{queues.main.logs()[-6000:]}"
        ),
    )

    express = message_body()
    assert queues.send(EXPRESS, express).accepted
    done = queues.host.wait_for(f"order-{express['order_id']}", timeout=90)
    assert done["output"]["status"] == "Completed"
    waiting = [queues.main.status(f"order-{b['order_id']}") for b in normal]
    assert [status and status["runtimeStatus"] for status in waiting] == ["Running"] * 4
    (queues.folder / release).touch()  # and they finish too
    for body in normal:
        status = queues.main.wait_for(f"order-{body['order_id']}", timeout=60)
        assert status["output"]["status"] == "Completed"
