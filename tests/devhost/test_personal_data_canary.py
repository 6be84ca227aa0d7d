"""Claim check, proven: canary personal data never appears outside the private container.

The app at the repository root runs on devhost with Azurite, the Service Bus stand-in, a
webhook receiver and a span file. Orders carry unique canary values in every personal field
(completed, declined, escalated then rejected, cancelled, and a queue message that wrongly
inlines them); then every place data can end up is scanned: Service Bus messages and dead
letters (storage queues under the stand-in), orchestration histories with their outputs,
inputs and custom status, the job API, log lines, spans, webhooks, every table, every blob
container but the private one, and devhost's own state files.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from adapters.factory import build_order_adapters
from adapters.payments import SIMULATED
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.servicebus.client import send_message
from devhost.testing import PROJECT_ROOT, DevHostProcess, WebhookReceiver, wait_until
from domain.payments import DECLINE_PREFIX

# One token in every canary value: found anywhere, in any encoding below, it is a leak.
TOKEN = f"cnry{uuid.uuid4().hex[:16]}"
CANARY = {
    "name": f"Canary {TOKEN} Person",
    "email": f"{TOKEN}@example.invalid",
    "address": f"{TOKEN} Canary Row, Canary Town",
}
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
PRIVATE_CONTAINER = order_storage_names({}).claim_check_container
THRESHOLD = 100_000


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def leaks(data: bytes | str, depth: int = 2) -> bool:
    """Whether the token is in `data`: as is, as UTF-16, or inside base64 (storage queue
    messages and envelopes encode bodies so), up to `depth` levels deep."""
    raw = data.encode() if isinstance(data, str) else data
    if TOKEN.encode() in raw or TOKEN.encode("utf-16-le") in raw:
        return True
    if depth == 0:
        return False
    for run in _BASE64_RUN.findall(raw):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 4 * 4]
            try:
                decoded = base64.b64decode(chunk, validate=True)
            except ValueError:
                continue
            if leaks(decoded, depth - 1):
                return True
    return False


@pytest.fixture(scope="module")
def world(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("canary")
    spans = state / "spans.jsonl"
    with WebhookReceiver("/hooks/canary") as hooks:
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "PAYMENT_PROVIDER": SIMULATED,
            "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
            "ServiceBusConnection": EMULATOR,
            "WEBHOOK_SIGNING_KEY": "canary-webhook-signing-key-0123456789abcdef",
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "DEVHOST_SPANS_FILE": str(spans),
        }
        with DevHostProcess(PROJECT_ROOT, state_dir=state, virtual_time=True, env=env) as host:
            yield {"host": host, "env": env, "hooks": hooks, "state": state, "spans": spans}


def seed(connection_string: str, sku: str) -> None:
    connection = StorageConnection(connection_string=connection_string)
    build_order_adapters(
        connection, order_storage_names({}), payment_provider=SIMULATED
    ).stock.set_level(sku, 5)


def order(azurite: Azurite, hooks: WebhookReceiver, *, price: int = 2_500, **extra: Any) -> dict:
    sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
    seed(azurite.connection_string, sku)
    return {
        "order_id": f"canary-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": price}],
        "customer": CANARY,
        "callback_url": hooks.url,
        **extra,
    }


def run_every_path(world: dict[str, Any], azurite: Azurite) -> list[str]:
    """Orders down every path, with canaries; returns their instance ids."""
    host: DevHostProcess = world["host"]
    hooks: WebhookReceiver = world["hooks"]

    def post(body: dict) -> str:
        response = host.http.post(host.url("/api/orders"), json=body, timeout=30)
        assert response.status_code == 202, response.text
        return f"order-{body['order_id']}"

    completed = post(order(azurite, hooks))
    declined = post(order(azurite, hooks, order_id=f"{DECLINE_PREFIX}{uuid.uuid4().hex[:10]}"))
    escalated = post(order(azurite, hooks, price=THRESHOLD * 3))  # times out: auto-rejected
    host.set_time(auto_advance=False)
    try:
        cancelled = post(order(azurite, hooks, price=THRESHOLD * 2))
        wait_until(
            lambda: (
                ((host.status(cancelled) or {}).get("customStatus") or {}).get("step")
                == "awaiting_approval"
            ),
            30,
            "the approval wait",
        )
        cancel = host.http.post(
            host.url(f"/api/jobs/{cancelled}/cancel"), json={"reason": "changed"}, timeout=30
        )
        assert cancel.status_code == 202, cancel.text
    finally:
        host.set_time(auto_advance=True)
    # A producer that wrongly inlines personal data on the queue: refused, recorded, completed.
    wrong = order(azurite, hooks)
    send_message(
        "orders",
        json.dumps(wrong),
        message_id=uuid.uuid4().hex,
        correlation_id="canary-queue",
        app_dir=PROJECT_ROOT,
        environ=world["env"],
    )
    ids = [completed, declined, escalated, cancelled]
    for instance_id in ids:
        host.wait_for(instance_id, timeout=90)
    host.wait_idle()
    wait_until(lambda: "Rejected message" in host.logs(), 30, "the inlined message rejected")
    return ids


def test_no_canary_leaves_the_private_container(world: dict[str, Any], azurite: Azurite) -> None:
    host: DevHostProcess = world["host"]
    ids = run_every_path(world, azurite)
    outcomes = {i: host.status(i)["output"]["status"] for i in ids}  # type: ignore[index]
    assert sorted(outcomes.values()) == ["Cancelled", "Completed", "Failed", "Rejected"]

    places: dict[str, bytes | str] = {}
    # The private container holds the data (so the canaries are real and findable) ...
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    private = blobs.get_container_client(PRIVATE_CONTAINER)
    stored = b"".join(private.download_blob(b.name).readall() for b in private.list_blobs())
    assert leaks(stored), "the canaries never reached the claim check: the scan proves nothing"
    # ... and nothing else does.
    for container in blobs.list_containers():
        if container.name == PRIVATE_CONTAINER:
            continue
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            places[f"blob {container.name}/{blob.name}"] = client.download_blob(blob.name).readall()
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    for table in tables.list_tables():
        rows = list(tables.get_table_client(table.name).list_entities())
        places[f"table {table.name}"] = json.dumps(rows, default=str)
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    for queue in queues.list_queues():  # Service Bus stand-in entities and their DLQs too
        messages = queues.get_queue_client(queue.name).peek_messages(max_messages=32)
        for number, message in enumerate(messages):
            places[f"queue {queue.name} #{number}"] = str(message.content)
    for instance_id in ids:
        status = host.http.get(
            host.url(
                f"/runtime/webhooks/durabletask/instances/{instance_id}"
                "?showHistory=true&showHistoryOutput=true&showInput=true"
            ),
            timeout=30,
        )
        places[f"durable status {instance_id}"] = status.text
        places[f"job API {instance_id}"] = requests.get(
            host.url(f"/api/jobs/{instance_id}"), timeout=30
        ).text
    places["devhost log"] = host.logs()
    spans = Path(world["spans"]).read_text() if Path(world["spans"]).exists() else ""
    assert '"name": "record_order"' in spans or '"name":"record_order"' in spans
    places["spans"] = spans
    for number, delivery in enumerate(world["hooks"].deliveries):
        places[f"webhook #{number}"] = delivery.body + json.dumps(delivery.headers).encode()
    assert len(world["hooks"].deliveries) >= 4  # one outcome per order
    for path in Path(world["state"]).rglob("*"):
        if path.is_file():
            places[f"devhost state {path.name}"] = path.read_bytes()

    leaked = sorted(place for place, data in places.items() if leaks(data))
    assert leaked == []
    assert len(places) > 20  # the scan looked at a real amount of data
