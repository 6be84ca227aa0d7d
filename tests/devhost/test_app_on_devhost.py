"""The project's own app on devhost: what `make run` promises, with Azurite for storage."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from adapters.factory import build_order_adapters
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite, port_is_listening
from devhost.testing import DevHostProcess

ROOT = Path(__file__).resolve().parent.parent.parent
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)


def test_health_on_devhost_with_azurite(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    env = {"AzureWebJobsStorage": azurite.connection_string, "PAYMENT_PROVIDER": "simulated"}
    host = devhost_factory(ROOT, env=env)
    host.start()
    response = requests.get(host.url("/api/health"), timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"]["storage"]["status"] == "ok"
    assert f"health: [GET] http://localhost:{host.port}/api/health" in host.logs()
    assert host.stop() == 0  # SIGTERM ends devhost cleanly


def test_health_reports_unreachable_storage(
    closed_port: int, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;"
    )
    host = devhost_factory(ROOT, env={"AzureWebJobsStorage": dead, "HEALTH_TIMEOUT_SECONDS": "2"})
    host.start()
    response = requests.get(host.url("/api/health"), timeout=30)
    assert response.status_code == 503
    assert "AccountKey" not in response.text


def test_without_a_payment_provider_orders_fail_for_good_and_the_probe_says_why(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    """PAYMENT_PROVIDER names no provider the app has: every function is still indexed and the
    rest runs; an order fails at its payment, permanently (no retry), with the reason, and its
    stock goes back; /api/health reports the payments check failed (503)."""
    connection = StorageConnection(connection_string=azurite.connection_string)
    stock = build_order_adapters(connection, order_storage_names({}), payment_provider=None).stock
    sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
    stock.set_level(sku, 1)
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "ServiceBusConnection": EMULATOR,
        # Unknown rather than unset, so that a developer's local.settings.json cannot fill it.
        "PAYMENT_PROVIDER": "not-plugged-in",
    }
    host = devhost_factory(ROOT, env=env, virtual_time=True)
    host.start()
    assert f"orders_start: [POST] http://localhost:{host.port}/api/orders" in host.logs()

    health = requests.get(host.url("/api/health"), timeout=30)
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["payments"]["status"] == "failed"
    assert checks["payments"]["error"] == "PaymentProviderNotConfigured"
    assert checks["storage"]["status"] == "ok"

    order_id = f"nopay-{uuid.uuid4().hex[:10]}"
    body = {
        "order_id": order_id,
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 2_500}],
        "customer": {"name": "Ada", "email": "ada@example.invalid", "address": "1 Main St"},
    }
    assert requests.post(host.url("/api/orders"), json=body, timeout=30).status_code == 202
    final = host.wait_for(f"order-{order_id}", history=True)
    assert final["output"]["status"] == "Failed"
    assert final["output"]["reason"].startswith("PAYMENT_PROVIDER names no payment provider")
    charges = [e for e in final["historyEvents"] if e.get("FunctionName") == "take_payment"]
    assert [e["EventType"] for e in charges] == ["TaskFailed"]  # permanent: tried once
    assert stock.level(sku).available == 1  # compensation released the reservation


@pytest.mark.skipif(
    port_is_listening("127.0.0.1", 10000),
    reason="development storage port 10000 is taken; devhost would (rightly) reuse it",
)
def test_devhost_starts_azurite_for_development_storage(
    devhost_factory: Callable[..., DevHostProcess],
) -> None:
    """What `make run` relies on: UseDevelopmentStorage=true and nothing on port 10000."""
    host = devhost_factory(
        ROOT,
        azurite=True,
        env={"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PAYMENT_PROVIDER": "simulated"},
    )
    host.start()
    try:
        assert port_is_listening("127.0.0.1", 10000)
        response = requests.get(host.url("/api/health"), timeout=30)
        assert response.status_code == 200, response.text
        assert (host.state_dir / "azurite").is_dir()
    finally:
        assert host.stop() == 0
    assert not port_is_listening("127.0.0.1", 10000)


def test_fixture_stops_what_it_started(devhost_factory: Callable[..., DevHostProcess]) -> None:
    app = ROOT / "tests" / "apps" / "durable_features"
    host = devhost_factory(app)
    host.start()
    pid = host.process.pid if host.process else None
    assert pid is not None
    host.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
