"""The starter against a hand-written durable client: look first, start once, lose races well."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from adapters.factory import root
from domain.order_requests import OrderRequest
from domain.payload import parse_request
from triggers import order_job
from triggers.start_once import Started

BODY = {
    "order_id": "o-7",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}],
    "customer": {"name": "Ada Example", "email": "ada@example.invalid"},
}
WHEN = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class FakeClient:
    """Behaves like the extension for one instance id: it exists, or not, or appears in a race."""

    def __init__(self, existing: str | None = None, race: bool = False) -> None:
        self.existing = existing
        self.race = race
        self.started: list[tuple[str, str, Any]] = []

    async def get_status(self, instance_id: str) -> DurableOrchestrationStatus:
        if self.existing is None:
            return DurableOrchestrationStatus.from_json("")  # the SDK's answer to a 404
        return DurableOrchestrationStatus(
            instanceId=instance_id, createdTime=WHEN.isoformat(), runtimeStatus=self.existing
        )

    async def start_new(self, name: str, instance_id: str, client_input: Any) -> str:
        if self.race:
            raise Exception("An Orchestration instance with the status Running already exists.")
        self.started.append((name, instance_id, client_input))
        return instance_id


class Hubs:
    """The order store's hub claims: insert-if-absent, in memory."""

    def __init__(self) -> None:
        self.claims: dict[str, str] = {}

    def claim_hub(self, order_id: str, hub: str) -> str:
        return self.claims.setdefault(order_id, hub)


@pytest.fixture
def hubs(monkeypatch: pytest.MonkeyPatch) -> Hubs:
    claims = Hubs()
    monkeypatch.setattr(root, "orders", lambda: SimpleNamespace(orders=claims))
    monkeypatch.setenv("APP_ROLE", "main")
    return claims


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch, hubs: Hubs) -> list[tuple[str, dict]]:
    calls: list[tuple[str, dict]] = []

    class Claims:
        def put(self, order_id: str, data: dict) -> str:
            calls.append((order_id, data))
            return f"claim://personal/customers/{order_id}.json"

    monkeypatch.setattr(root, "claims", Claims)
    return calls


def start(client: FakeClient, **changes: Any) -> Started:
    request = parse_request(OrderRequest, json.dumps({**BODY, **changes}))
    return asyncio.run(
        order_job.start_order(client, request, received_at=WHEN, correlation_id="c-1")  # type: ignore[arg-type]
    )


def test_a_new_order_is_started_with_a_reference_and_settings(stored: list) -> None:
    client = FakeClient()
    outcome = start(client)
    assert outcome == Started("order-o-7", True, "Pending")
    ((name, instance_id, payload),) = client.started
    assert (name, instance_id) == ("process_order", "order-o-7")
    assert payload["order"]["customer_ref"] == "claim://personal/customers/o-7.json"
    assert payload["received_at"] == WHEN.isoformat()
    assert payload["correlation_id"] == "c-1"
    assert payload["approval"]["threshold_cents"] == 100_000
    assert stored == [("o-7", BODY["customer"])]
    assert "Ada" not in str(payload)


@pytest.mark.parametrize("status", ["Pending", "Running", "Completed", "Failed", "Terminated"])
def test_an_existing_instance_is_never_started_again(stored: list, status: str) -> None:
    client = FakeClient(existing=status)
    assert start(client) == Started("order-o-7", False, status)
    assert client.started == []
    assert stored == []  # a duplicate does not overwrite the personal data


def test_losing_the_start_race_is_a_duplicate(stored: list) -> None:
    assert start(FakeClient(race=True)) == Started("order-o-7", False, "Running")


def test_other_start_failures_are_raised(stored: list) -> None:
    class Broken(FakeClient):
        async def start_new(self, name: str, instance_id: str, client_input: Any) -> str:
            raise Exception("The operation failed with an unexpected status code 503")

    with pytest.raises(Exception, match="503"):
        start(Broken())


def test_an_order_runs_in_the_hub_that_claimed_it_first(
    stored: list, hubs: Hubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    main, express = FakeClient(), FakeClient(existing="Completed")
    reached: list[str] = []

    def on_hub(client: FakeClient, hub: str) -> FakeClient:
        reached.append(hub)
        return express if hub == "express" else client

    monkeypatch.setattr(order_job, "on_hub", on_hub)

    # Sent express first: claimed for the express hub and started there.
    express.existing = None
    assert start(main, express=True) == Started("order-o-7", True, "Pending")
    assert (len(express.started), len(main.started), hubs.claims) == (1, 0, {"o-7": "express"})
    # The same order sent the normal way: not started in the main hub; the answer is its status
    # in the express hub, as a duplicate's is.
    express.existing = "Completed"
    assert start(main) == Started("order-o-7", False, "Completed")
    assert (len(express.started), len(main.started)) == (1, 0)
    assert reached == ["express", "express"]


def test_the_express_app_only_logs_a_duplicate_the_main_hub_claimed(
    stored: list, hubs: Hubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    hubs.claims["o-7"] = "main"
    monkeypatch.setenv("APP_ROLE", "express")
    client = FakeClient()
    assert start(client, express=True) == Started("order-o-7", False, "Pending")
    assert client.started == []
