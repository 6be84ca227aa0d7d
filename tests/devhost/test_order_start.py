"""Starting orders over HTTP and the `orders` queue: validation, dedupe, claim check, rejections.

The app (tests/apps/order_stubs) runs the real triggers and orchestrator over stub activities
and a stub claim check, with the Service Bus stand-in on Azurite and the real queue declaration.
HTTP requests carry the customer inline; queue messages only a claim-check reference.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.factory import build_rejected_messages
from adapters.rejected_messages import RejectedMessage
from app_config import StorageConnection
from devhost.azurite import Azurite
from devhost.servicebus.client import peek_dead_letters, send_message
from devhost.servicebus.models import SendResult
from devhost.testing import PROJECT_ROOT, DevHostProcess, stand_in_settled, wait_until
from orchestrators.approval import APPROVAL_EVENT

APP = Path(__file__).resolve().parent.parent / "apps" / "order_stubs"
DURABLE = "/runtime/webhooks/durabletask"
CANARY = {"name": "Canary Person", "email": "canary@example.invalid", "address": "1 Canary Row"}


@dataclass
class Api:
    host: DevHostProcess
    folder: Path
    env: dict[str, str]
    azurite: Azurite

    def post(self, body: Any, **kwargs: Any) -> requests.Response:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.host.http.post(self.host.url("/api/orders"), data=data, timeout=30, **kwargs)

    def get(self, order_id: str) -> requests.Response:
        return self.host.http.get(self.host.url(f"/api/orders/{order_id}"), timeout=30)

    def send(self, body: Any, **kwargs: Any) -> SendResult:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        kwargs.setdefault("message_id", uuid.uuid4().hex)
        return send_message(
            "orders",
            data,
            connection="ServiceBusConnection",
            app_dir=APP,
            environ=self.env,
            **kwargs,
        )

    def dead_letters(self) -> list[str]:
        letters, _ = peek_dead_letters(
            "orders", connection="ServiceBusConnection", app_dir=APP, environ=self.env
        )
        return [letter.message_id for letter in letters]

    def calls(self, order_id: str, activity: str) -> list[dict[str, Any]]:
        path = self.folder / "calls.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [
            r["payload"] for r in rows if r["order_id"] == order_id and r["activity"] == activity
        ]

    def script(self, order_id: str, plan: dict[str, Any]) -> None:
        path = self.folder / "script.json"
        script = json.loads(path.read_text()) if path.exists() else {}
        script[order_id] = plan
        path.write_text(json.dumps(script))

    def rejected(self, message_id: str) -> list[RejectedMessage]:
        connection = StorageConnection(connection_string=self.azurite.connection_string)
        store = build_rejected_messages(connection, "rejectedmessages")
        return [r for r in store.for_queue("orders") if r.message_id == message_id]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("order-start")
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(PROJECT_ROOT / "infra" / "servicebus.json"),
        "ORDER_STUBS_DIR": str(folder),
        "ORDER_APPROVAL_THRESHOLD_CENTS": "100000",
    }
    with DevHostProcess(APP, state_dir=folder / "state", virtual_time=True, env=env) as host:
        yield Api(host, folder, env, azurite)


def order_body(order_id: str | None = None, amount: int = 2_500, **extra: Any) -> dict[str, Any]:
    body = {
        "order_id": order_id or f"o-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": amount}],
        "customer": CANARY,
    }
    return {**body, **extra}


def message_body(order_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A queue message: the publisher stored the customer first and sends the reference."""
    oid = order_id or f"o-{uuid.uuid4().hex[:12]}"
    body = order_body(
        oid, **{"customer_ref": f"claim://orders-private/customers/{oid}.json", **extra}
    )
    del body["customer"]
    return body


def finished(api: Api, order_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        response = api.get(order_id)
        if response.status_code != 200:
            return None
        body = response.json()
        return body if body["runtime_status"] in ("Completed", "Failed") else None

    return wait_until(done)


# -- HTTP ----------------------------------------------------------------------------------


def test_post_answers_202_with_the_apps_own_status_url(api: Api) -> None:
    body = order_body()
    oid = body["order_id"]
    response = api.post(body)
    assert response.status_code == 202, response.text
    status_url = api.host.url(f"/api/orders/{oid}")
    assert response.headers["Location"] == status_url
    assert response.headers["Retry-After"]
    assert response.json() == {
        "order_id": oid,
        "runtime_status": "Pending",
        "duplicate": False,
        "status_url": status_url,
    }
    assert "runtime/webhooks" not in response.text  # no management URLs, no system key

    result = finished(api, oid)
    assert result["output"] == {
        "order_id": oid,
        "status": "Completed",
        "payment_id": f"pay-{oid}",
        "tracking_id": f"track-{oid}",
    }
    assert result["custom_status"] == {"step": "completed", "progress": 100}
    assert set(result) >= {"order_id", "runtime_status", "custom_status", "output"}


def test_personal_data_goes_to_the_claim_check_only(api: Api) -> None:
    body = order_body()
    oid = body["order_id"]
    assert api.post(body).status_code == 202
    result = finished(api, oid)
    stored = json.loads((api.folder / "personal" / f"{oid}.json").read_text())
    assert stored == CANARY
    status = api.host.status(f"order-{oid}", history=True, history_output=True)
    assert json.loads(status["input"])["order"]["customer_ref"] == f"claim-{oid}"
    for seen in (json.dumps(status), json.dumps(result), api.get(oid).text):
        for value in CANARY.values():
            assert value not in seen
    (confirmation,) = api.calls(oid, "send_confirmation")
    assert confirmation["customer_ref"] == f"claim-{oid}"


def test_a_retried_post_never_runs_the_order_twice(api: Api) -> None:
    body = order_body()
    oid = body["order_id"]
    assert api.post(body).status_code == 202
    finished(api, oid)
    again = api.post({**body, "customer": {**CANARY, "name": "Someone Else"}})
    assert again.status_code == 200
    assert again.json()["output"]["status"] == "Completed"
    assert again.json()["status_url"] == again.headers["Location"]
    assert len(api.calls(oid, "take_payment")) == 1
    # The duplicate did not overwrite what the first request stored.
    assert json.loads((api.folder / "personal" / f"{oid}.json").read_text()) == CANARY


def test_a_post_while_the_order_runs_points_at_the_running_instance(api: Api) -> None:
    body = order_body(amount=250_000)  # waits for approval
    oid = body["order_id"]
    api.host.set_time(auto_advance=False)
    try:
        assert api.post(body).status_code == 202
        wait_until(
            lambda: (
                (api.get(oid).json().get("custom_status") or {}).get("step") == "awaiting_approval"
            )
        )
        again = api.post(body)
        assert again.status_code == 202
        assert again.json()["duplicate"] is True
        assert again.json()["runtime_status"] == "Running"
        api.host.raise_event(f"order-{oid}", APPROVAL_EVENT, {"approved": True})
        assert finished(api, oid)["output"]["status"] == "Completed"
    finally:
        api.host.set_time(auto_advance=True)
    assert len(api.calls(oid, "take_payment")) == 1


def test_concurrent_posts_start_one_run(api: Api) -> None:
    body = order_body()
    oid = body["order_id"]
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(api.post(body))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
    started = [a for a in answers if a.status_code == 202 and not a.json()["duplicate"]]
    assert len(started) == 1
    finished(api, oid)
    assert len(api.calls(oid, "take_payment")) == 1
    assert len(api.calls(oid, "record_order")) == 1


def test_a_body_that_is_not_json_is_a_problem(api: Api) -> None:
    response = api.post("{not json")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "urn:problem-type:orders:invalid-order",
        "title": "Invalid order",
        "status": 400,
        "detail": "The order has problems listed in errors.",
        "errors": [{"detail": "the body is not JSON: key must be a string at line 1 column 2"}],
    }


def test_an_invalid_order_lists_every_problem_without_echoing_values(api: Api) -> None:
    body = order_body(currency="XXX")
    body["lines"][0]["quantity"] = 0
    body["customer"] = {"name": "Canary Person", "email": "no-at-sign"}
    response = api.post(body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "urn:problem-type:orders:invalid-order"
    assert problem["status"] == 400
    pointers = {e.get("pointer") for e in problem["errors"]}
    assert {"#/currency", "#/lines/0/quantity", "#/customer/email"} <= pointers
    assert "no-at-sign" not in response.text and "Canary" not in response.text
    assert api.get(body["order_id"]).status_code == 404  # nothing was started


def test_a_customer_reference_is_not_accepted_over_http(api: Api) -> None:
    body = order_body()
    del body["customer"]
    body["customer_ref"] = "claim-someone-elses-data"
    response = api.post(body)
    assert response.status_code == 400
    errors = {e.get("pointer") for e in response.json()["errors"]}
    assert errors == {"#/customer", "#/customer_ref"}


def test_an_unknown_order_is_404_problem(api: Api) -> None:
    response = api.get("never-seen")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:problem-type:orders:not-found"
    assert api.get("bad%20id!").status_code == 404


# -- Service Bus ---------------------------------------------------------------------------


def test_a_queue_message_completes_an_order(api: Api) -> None:
    body = message_body()
    ref = body["customer_ref"]
    sent = api.send(body, correlation_id="corr-42")
    assert sent.accepted
    result = finished(api, body["order_id"])
    assert result["output"]["status"] == "Completed"
    status = api.host.status(f"order-{body['order_id']}")
    started = json.loads(status["input"])
    assert started["correlation_id"] == "corr-42"
    assert started["order"]["customer_ref"] == ref
    assert started["order"]["express"] is False
    (confirmation,) = api.calls(body["order_id"], "send_confirmation")
    assert confirmation["customer_ref"] == ref
    # The starter stored nothing: the publisher did, before it sent the reference.
    assert not (api.folder / "personal" / f"{body['order_id']}.json").exists()


def test_personal_data_in_a_message_is_rejected_without_keeping_it(api: Api) -> None:
    body = order_body()
    oid = body["order_id"]
    sent = api.send(body)
    assert sent.accepted
    (row,) = wait_until(lambda: api.rejected(sent.message_id))
    assert row.reason == (
        "customer_ref: Field required; "
        "customer: personal data is not accepted in a queue message; "
        "store it with the claim check and send customer_ref"
    )
    assert row.queue == "orders" and row.body_bytes == len(json.dumps(body).encode())
    assert not any(value in json.dumps(row.__dict__, default=str) for value in CANARY.values())
    # Completed, not abandoned: gone from the queue with one delivery and no dead letter.
    wait_until(lambda: stand_in_settled(api.azurite.connection_string, "orders"), what="settled")
    assert api.rejected(sent.message_id)[0].rejected_at == row.rejected_at
    assert sent.message_id not in api.dead_letters()
    assert api.get(oid).status_code == 404  # nothing started
    assert not (api.folder / "personal" / f"{oid}.json").exists()  # nothing stored
    logs = api.host.logs()
    assert f"Rejected message {sent.message_id} on orders: customer_ref: Field required; " in logs
    assert "customer: personal data is not accepted in a queue message" in logs
    assert not any(value in logs for value in CANARY.values())


def test_a_repeated_message_runs_the_order_once_even_after_purge(api: Api) -> None:
    body = message_body()
    oid = body["order_id"]
    first = api.send(body)
    assert api.send(body, message_id=first.message_id).accepted is False  # duplicate detection
    finished(api, oid)
    # A resend with a new message id gets past duplicate detection: the starter stops it.
    assert api.send(body).accepted
    wait_until(lambda: "not started again" in api.host.logs() and oid in api.host.logs())
    assert len(api.calls(oid, "take_payment")) == 1
    # After a purge nothing is left to find: the order store (the record_order stub here,
    # the real store in test_order_workflow.py) says the order is done.
    api.script(oid, {"record_status": "Completed"})
    purge = api.host.http.delete(api.host.url(f"{DURABLE}/instances/order-{oid}"), timeout=30)
    assert purge.status_code == 200
    assert api.send(body).accepted
    result = finished(api, oid)
    assert result["output"] == {
        "order_id": oid,
        "status": "Completed",
        "reason": "already processed",
    }
    assert len(api.calls(oid, "take_payment")) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body is not JSON: key must be a string"),
        (b"\xff\xfe", "the body is not JSON: "),
        (json.dumps({"order_id": "x", "customer": CANARY}).encode(), "currency: Field required"),
        (json.dumps(message_body(customer_ref="no spaces allowed")).encode(), "customer_ref"),
    ],
)
def test_a_malformed_message_is_recorded_and_not_retried(
    api: Api, body: bytes, reason: str
) -> None:
    sent = api.send(body)
    (row,) = wait_until(lambda: api.rejected(sent.message_id))
    assert reason in row.reason
    assert row.delivery_count == 1
    assert row.body_bytes == len(body)
    assert CANARY["email"] not in json.dumps(row.__dict__, default=str)
    # Completed, not abandoned: gone from the queue, delivered once.
    wait_until(lambda: stand_in_settled(api.azurite.connection_string, "orders"), what="settled")
    assert api.rejected(sent.message_id)[0].rejected_at == row.rejected_at
    assert f"Rejected message {sent.message_id} on orders" in api.host.logs()
