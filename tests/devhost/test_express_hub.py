"""Express orders in the express app's own task hub, reached through the main app's one API.

The app at the repository root in both roles (APP_ROLE main and express), each a devhost with
its own task hub, on one Azurite, as the two function apps share one storage account in Azure.
The main app finds an express order in the hub that claimed it: status, cancel, approval and
retention reach it there; the express app runs it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest
import requests
from azure.durable_functions.models.utils.http_utils import _close_session

from adapters.factory import build_order_adapters
from adapters.payments import SIMULATED
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.durable.api import client_binding_json
from devhost.servicebus.client import send_message
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until
from domain.approval_tokens import issue
from domain.retention import RetentionPolicy
from triggers.retention_timer import run_retention

THRESHOLD = 100_000
APPROVAL_KEY = "express-hub-test-approval-signing-key-0123456789"
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
CUSTOMER = {"name": "Express Canary", "email": "express@example.invalid", "address": "3 Fast Rd"}


@dataclass
class Shop:
    main: DevHostProcess
    express: DevHostProcess
    env: dict[str, str]
    storage: str

    def order(self, price: int = 2_500, **extra: Any) -> dict[str, Any]:
        """An order for one unit of a SKU of its own, with units on the shelf."""
        sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
        connection = StorageConnection(connection_string=self.storage)
        adapters = build_order_adapters(
            connection, order_storage_names({}), payment_provider=SIMULATED
        )
        adapters.stock.set_level(sku, 5)
        return {
            "order_id": f"fast-{uuid.uuid4().hex[:10]}",
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": price}],
            "customer": CUSTOMER,
            **extra,
        }

    def api(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = self.main.url(f"/api/{path}")
        return self.main.http.request(method, url, json=body, timeout=30)

    def step(self, host: DevHostProcess, order_id: str) -> str | None:
        status = host.status(f"order-{order_id}") or {}
        return (status.get("customStatus") or {}).get("step")


@pytest.fixture(scope="module")
def shop(
    azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    both_apps: Callable[..., AbstractContextManager[Any]],
) -> Iterator[Shop]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
        "ServiceBusConnection": EMULATOR,
        "APPROVAL_SIGNING_KEY": APPROVAL_KEY,
        "AZURE_FUNCTIONS_DURABLE_STRICT_TYPING": "1",
    }
    state = tmp_path_factory.mktemp("express-hub")
    with both_apps(PROJECT_ROOT, env=env, state_dir=state, virtual_time=True) as apps:
        yield Shop(apps.main, apps.express, env, azurite.connection_string)


def test_an_express_order_over_http_runs_in_the_express_hub(shop: Shop) -> None:
    body = shop.order(express=True)
    oid = body["order_id"]
    started = shop.api("POST", "orders", body)
    assert started.status_code == 202, started.text

    status = shop.express.wait_for(f"order-{oid}", timeout=60)
    assert status["output"]["status"] == "Completed"
    assert json.loads(status["input"])["order"]["express"] is True
    assert shop.main.status(f"order-{oid}") is None  # not in the main hub
    # The one API finds it there: the alias and the job API alike.
    for path in (f"orders/{oid}", f"jobs/order-{oid}"):
        answer = shop.api("GET", path)
        assert answer.status_code == 200, answer.text
        assert answer.json()["runtime_status"] == "Completed"
    # A duplicate start answers with the finished order's status, from the express hub.
    again = shop.api("POST", "orders", body)
    assert again.status_code == 200, again.text


def test_the_same_order_sent_the_normal_way_after_express_runs_once(shop: Shop) -> None:
    body = shop.order()
    oid = body["order_id"]
    assert shop.api("POST", "orders", {**body, "express": True}).status_code == 202
    shop.express.wait_for(f"order-{oid}", timeout=60)
    duplicate = shop.api("POST", "orders", body)  # not express: claimed by the express hub
    assert duplicate.status_code == 200, duplicate.text
    assert shop.main.status(f"order-{oid}") is None
    assert "runs in the express task hub, not the main hub" in shop.main.logs()


@pytest.fixture
def paused(shop: Shop) -> Iterator[Shop]:
    """The express app's clock held, so an order waiting for approval does not time out."""
    shop.express.set_time(auto_advance=False)
    try:
        yield shop
    finally:
        shop.express.set_time(auto_advance=True)


def test_a_cancel_reaches_an_express_order(paused: Shop) -> None:
    shop = paused
    body = shop.order(price=THRESHOLD * 2, express=True)  # waits for an approver
    oid = body["order_id"]
    assert shop.api("POST", "orders", body).status_code == 202
    wait_until(lambda: shop.step(shop.express, oid) == "awaiting_approval")

    cancelled = shop.api("POST", f"orders/{oid}/cancel", {"reason": "changed my mind"})
    assert cancelled.status_code == 202, cancelled.text
    status = shop.express.wait_for(f"order-{oid}", timeout=60)
    assert status["output"]["status"] == "Cancelled"


def test_an_approval_reaches_an_express_order(paused: Shop) -> None:
    shop = paused
    body = shop.order(price=THRESHOLD + 1)
    oid = body["order_id"]
    message = {k: v for k, v in body.items() if k != "customer"}
    send_message(
        "orders-express",
        json.dumps({**message, "customer_ref": _ref(shop, oid)}),
        message_id=uuid.uuid4().hex,
        connection="ServiceBusConnection",
        app_dir=PROJECT_ROOT,
        environ=shop.env,
    )
    wait_until(lambda: shop.step(shop.express, oid) == "awaiting_approval")
    token = issue(oid, "approver-1", datetime.now(UTC) + timedelta(hours=1), APPROVAL_KEY)

    decided = shop.api("POST", f"orders/{oid}/approval", {"approved": True, "token": token})
    assert decided.status_code == 202, decided.text
    status = shop.express.wait_for(f"order-{oid}", timeout=60)
    assert status["output"]["status"] == "Completed"


def test_retention_purges_finished_orders_in_both_hubs(shop: Shop) -> None:
    normal, express = shop.order(), shop.order(express=True)
    for body in (normal, express):
        assert shop.api("POST", "orders", body).status_code == 202
    shop.main.wait_for(f"order-{normal['order_id']}", timeout=60)
    shop.express.wait_for(f"order-{express['order_id']}", timeout=60)

    policy = RetentionPolicy(instance_days=30, report_days=90, claim_days=30)
    as_of = datetime.now(UTC) + timedelta(days=60)  # both are older than 30 days by then

    async def retention() -> None:
        binding = client_binding_json(shop.main.base_url, "JobsHub", "devhost-local-system-key")
        try:
            await run_retention(df.DurableOrchestrationClient(binding), as_of, policy)
        finally:  # the SDK's one HTTP session is bound to this loop: closed with it
            await _close_session()

    asyncio.run(retention())
    assert shop.main.status(f"order-{normal['order_id']}") is None
    assert shop.express.status(f"order-{express['order_id']}") is None


def _ref(shop: Shop, order_id: str) -> str:
    """The customer through the claim check, as a queue producer must."""
    connection = StorageConnection(connection_string=shop.storage)
    adapters = build_order_adapters(connection, order_storage_names({}), payment_provider=SIMULATED)
    return adapters.claims.put(order_id, CUSTOMER)
