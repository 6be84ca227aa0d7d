"""Every path of the order workflow on devhost, with scripted stub activities and virtual time.

The app (tests/apps/order_stubs) runs the real orchestrator over same-named stub activities,
so each path, failure and retry is forced exactly; test_order_workflow.py runs the real ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess, wait_until
from domain.approval_tokens import issue
from domain.fulfilment import WORKFLOW_VERSION, ApprovalPolicy, WorkflowInput
from domain.job_updates import ResultRouting
from domain.orders import Order, OrderLine, instance_id_for
from orchestrators.approval import APPROVAL_EVENT, TIMED_OUT

APP = Path(__file__).resolve().parent.parent / "apps" / "order_stubs"
POLICY = ApprovalPolicy(
    threshold_cents=100_000,
    escalate_after_seconds=timedelta(hours=24).total_seconds(),
    timeout_seconds=timedelta(hours=72).total_seconds(),
)
SMALL, LARGE = 2_500, 250_000
SIGNING_KEY = "devhost-test-approval-signing-key-0123456789"
NO_ROUTING = ResultRouting()


class Stubs:
    """The stub activities' script and journal (see the test app's docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def script(self, order_id: str, plan: dict[str, Any]) -> None:
        path = self.folder / "script.json"
        script = json.loads(path.read_text()) if path.exists() else {}
        script[order_id] = plan
        path.write_text(json.dumps(script))

    def calls(self, order_id: str) -> list[tuple[str, dict[str, Any]]]:
        path = self.folder / "calls.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [(r["activity"], r["payload"]) for r in rows if r["order_id"] == order_id]

    def names(self, order_id: str) -> list[str]:
        return [name for name, _ in self.calls(order_id)]

    def published(self, order_id: str) -> list[dict[str, Any]]:
        """The publish_job_update inputs for the order, in call order."""
        return [
            p for p in self._rows("published.jsonl") if p["update"]["job_id"] == f"order-{order_id}"
        ]

    def webhooks(self, order_id: str) -> list[dict[str, Any]]:
        return [
            p for p in self._rows("webhooks.jsonl") if p["event"]["job_id"] == f"order-{order_id}"
        ]

    def _rows(self, name: str) -> list[dict[str, Any]]:
        path = self.folder / name
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def statuses(self, order_id: str) -> list[tuple[str, str | None]]:
        return [
            (p["status"], p.get("reason"))
            for name, p in self.calls(order_id)
            if name == "set_order_status"
        ]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[DevHostProcess]:
    state = tmp_path_factory.mktemp("order-paths")
    env = {
        "ORDER_STUBS_DIR": str(state),
        "AzureWebJobsStorage": azurite.connection_string,
        "APPROVAL_SIGNING_KEY": SIGNING_KEY,
    }
    with DevHostProcess(APP, state_dir=state, virtual_time=True, env=env) as running:
        running.stubs = Stubs(state)  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def stubs(host: DevHostProcess) -> Stubs:
    return host.stubs  # type: ignore[attr-defined]


@pytest.fixture
def paused(host: DevHostProcess) -> Iterator[DevHostProcess]:
    """Virtual time that moves only when the test says so."""
    host.set_time(auto_advance=False)
    try:
        yield host
    finally:
        host.set_time(auto_advance=True)


def new_order(amount_cents: int = SMALL) -> Order:
    order_id = f"o-{uuid.uuid4().hex[:12]}"
    line = OrderLine(sku="SKU-1", quantity=1, unit_price_cents=amount_cents)
    return Order(order_id=order_id, customer_ref="ref-123", currency="EUR", lines=(line,))


def start(
    host: DevHostProcess, order: Order, routing: ResultRouting | None = None, version: int = 1
) -> str:
    run = WorkflowInput(
        order=order,
        received_at="2026-11-22T00:00:00+00:00",
        approval=POLICY,
        correlation_id="corr-1",
        routing=routing or NO_ROUTING,
        version=version,
    )
    return host.start_orchestration("process_order", run.dump(), instance_id_for(order.order_id))


def run(host: DevHostProcess, order: Order) -> dict[str, Any]:
    return host.wait_for(start(host, order))


def wait_for_step(host: DevHostProcess, instance_id: str, step: str, timeout: float = 30) -> None:
    wait_until(
        lambda: ((host.status(instance_id) or {}).get("customStatus") or {}).get("step") == step,
        timeout,
        lambda: f"{instance_id} at step {step} (now: {host.status(instance_id)})",
        interval=0.02,
    )
    host.wait_idle()


HAPPY = [
    "record_order",
    "reserve_stock",
    "take_payment",
    "ship_order",
    "send_confirmation",
    "set_order_status",
]


def test_happy_path_chains_every_step(host: DevHostProcess, stubs: Stubs) -> None:
    order = new_order()
    status = run(host, order)
    oid = order.order_id
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {
        "order_id": oid,
        "status": "Completed",
        "payment_id": f"pay-{oid}",
        "tracking_id": f"track-{oid}",
    }
    assert status["customStatus"] == {"step": "completed", "progress": 100}
    assert stubs.names(oid) == HAPPY
    calls = dict(stubs.calls(oid))
    corr = {"correlation_id": "corr-1"}  # every activity gets it, for its log lines
    assert calls["record_order"] == {
        "order": order.dump(),
        "received_at": "2026-11-22T00:00:00+00:00",
        **corr,
    }
    assert calls["reserve_stock"] == {"order_id": oid, "lines": order.dump()["lines"], **corr}
    assert calls["take_payment"] == {
        "order_id": oid,
        "amount_cents": SMALL,
        "currency": "EUR",
        **corr,
    }
    assert calls["send_confirmation"] == {"order_id": oid, "customer_ref": "ref-123", **corr}
    assert stubs.statuses(oid) == [("Completed", None)]


def test_payment_declined_releases_stock_and_fails(host: DevHostProcess, stubs: Stubs) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"take_payment": ["permanent:payment declined: insufficient funds"]})
    status = run(host, order)
    assert status["output"] == {
        "order_id": oid,
        "status": "Failed",
        "reason": "payment declined: insufficient funds",
    }
    assert stubs.names(oid) == [
        "record_order",
        "reserve_stock",
        "take_payment",
        "release_stock",
        "set_order_status",
    ]
    assert stubs.statuses(oid) == [("Failed", "payment declined: insufficient funds")]
    assert status["customStatus"] == {"step": "failed", "progress": 100}


def test_shipping_failure_refunds_then_releases(host: DevHostProcess, stubs: Stubs) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"ship_order": ["permanent:carrier refused the parcel"]})
    status = run(host, order)
    assert status["output"]["status"] == "Failed"
    assert status["output"]["reason"] == "carrier refused the parcel"
    assert status["output"]["payment_id"] == f"pay-{oid}"
    assert "tracking_id" not in status["output"]
    assert stubs.names(oid)[3:] == [
        "ship_order",
        "refund_payment",
        "release_stock",
        "set_order_status",
    ]
    assert dict(stubs.calls(oid))["refund_payment"] == {
        "order_id": oid,
        "payment_id": f"pay-{oid}",
        "correlation_id": "corr-1",
    }


def test_transient_failures_are_retried_without_compensation(
    host: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"take_payment": ["transient", "transient"]})
    status = run(host, order)
    assert status["output"]["status"] == "Completed"
    assert stubs.names(oid).count("take_payment") == 3
    assert "refund_payment" not in stubs.names(oid)


def test_a_step_out_of_retries_is_compensated(host: DevHostProcess, stubs: Stubs) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"ship_order": ["transient"] * 4})
    status = run(host, order)
    assert status["output"]["status"] == "Failed"
    assert status["output"]["reason"] == "ship_order busy"
    names = stubs.names(oid)
    assert names.count("ship_order") == 4
    assert names[-3:] == ["refund_payment", "release_stock", "set_order_status"]


def test_a_payment_out_of_retries_is_refunded_by_the_order_charge_key(
    host: DevHostProcess, stubs: Stubs
) -> None:
    """The last attempt may have charged before failing: compensation asks by the order."""
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"take_payment": ["transient"] * 4})
    status = run(host, order)
    assert status["output"]["status"] == "Failed"
    assert "payment_id" not in status["output"]
    names = stubs.names(oid)
    assert names.count("take_payment") == 4
    assert names[-3:] == ["refund_payment", "release_stock", "set_order_status"]
    assert dict(stubs.calls(oid))["refund_payment"] == {"order_id": oid, "correlation_id": "corr-1"}

    declined = new_order()
    stubs.script(declined.order_id, {"take_payment": ["permanent:payment declined: card"]})
    run(host, declined)
    assert "refund_payment" not in stubs.names(declined.order_id)  # nothing was charged


def test_compensations_are_retried_and_one_failure_does_not_stop_the_others(
    host: DevHostProcess, stubs: Stubs
) -> None:
    retried, stuck = new_order(), new_order()
    stubs.script(
        retried.order_id,
        {"ship_order": ["permanent:no carrier"], "refund_payment": ["transient", "transient"]},
    )
    stubs.script(
        stuck.order_id,
        {"ship_order": ["permanent:no carrier"], "refund_payment": ["permanent:card closed"]},
    )
    first, second = run(host, retried), run(host, stuck)
    assert first["output"]["reason"] == "no carrier"
    assert stubs.names(retried.order_id).count("refund_payment") == 3
    assert second["output"]["status"] == "Failed"
    assert second["output"]["reason"] == "no carrier; not compensated: refund_payment: card closed"
    assert stubs.names(stuck.order_id)[-2:] == ["release_stock", "set_order_status"]


def test_a_failed_confirmation_still_completes_the_shipped_order(
    host: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"send_confirmation": ["permanent:mailbox unknown"]})
    status = run(host, order)
    assert status["output"]["status"] == "Completed"
    assert status["output"]["reason"] == "confirmation not sent: mailbox unknown"
    assert stubs.statuses(oid) == [("Completed", "confirmation not sent: mailbox unknown")]
    assert "refund_payment" not in stubs.names(oid)


def test_a_failure_to_record_compensates_nothing(host: DevHostProcess, stubs: Stubs) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"record_order": ["permanent:order store refused the row"]})
    status = run(host, order)
    assert status["output"] == {
        "order_id": oid,
        "status": "Failed",
        "reason": "order store refused the row",
    }
    assert stubs.names(oid) == ["record_order"]


def test_an_order_already_finished_is_not_processed_again(
    host: DevHostProcess, stubs: Stubs
) -> None:
    """After a purge a new instance may start; the order store says it is done."""
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"record_status": "Completed"})
    status = run(host, order)
    assert status["output"] == {
        "order_id": oid,
        "status": "Completed",
        "reason": "already processed",
    }
    assert stubs.names(oid) == ["record_order"]


def test_an_approved_order_continues(paused: DevHostProcess, stubs: Stubs) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    assert paused.status(iid)["customStatus"] == {"step": "awaiting_approval", "progress": 55}
    paused.raise_event(iid, APPROVAL_EVENT, {"approved": True})
    status = paused.wait_for(iid)
    assert status["output"]["status"] == "Completed"
    assert stubs.statuses(oid) == [("AwaitingApproval", None), ("Completed", None)]
    assert stubs.names(oid).index("take_payment") < stubs.names(oid).index("ship_order")


def test_a_rejected_order_is_compensated(paused: DevHostProcess, stubs: Stubs) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    # The SDK's raise_event double-encodes: the decision arrives as JSON text, still understood.
    paused.raise_event(iid, APPROVAL_EVENT, json.dumps({"approved": False, "reason": "too risky"}))
    status = paused.wait_for(iid)
    assert status["output"] == {
        "order_id": oid,
        "status": "Rejected",
        "reason": "too risky",
        "payment_id": f"pay-{oid}",
    }
    assert "ship_order" not in stubs.names(oid)
    assert stubs.names(oid)[-3:] == ["refund_payment", "release_stock", "set_order_status"]
    assert stubs.statuses(oid)[-1] == ("Rejected", "too risky")
    assert status["customStatus"] == {"step": "rejected", "progress": 100}


def test_an_order_is_escalated_then_approved(paused: DevHostProcess, stubs: Stubs) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    paused.set_time(advance_seconds=23 * 3600)
    paused.wait_idle()
    assert paused.status(iid)["customStatus"]["step"] == "awaiting_approval"
    paused.set_time(advance_seconds=2 * 3600)
    wait_for_step(paused, iid, "approval_escalated")
    assert stubs.statuses(oid) == [
        ("AwaitingApproval", None),
        ("AwaitingApproval", "approval escalated"),
    ]
    (notice,) = [p for name, p in stubs.calls(oid) if name == "send_notification"]
    assert notice == {"order_id": oid, "kind": "escalation", "correlation_id": "corr-1"}
    paused.raise_event(iid, APPROVAL_EVENT, {"approved": True})
    status = paused.wait_for(iid)
    assert status["output"]["status"] == "Completed"
    assert status["runtimeStatus"] == "Completed"  # the final timer was cancelled


def test_no_decision_escalates_then_rejects(host: DevHostProcess, stubs: Stubs) -> None:
    """With auto-advancing virtual time the 72-hour wait passes in milliseconds."""
    order = new_order(LARGE)
    oid = order.order_id
    status = run(host, order)
    assert status["output"]["status"] == "Rejected"
    assert status["output"]["reason"] == TIMED_OUT
    assert stubs.statuses(oid) == [
        ("AwaitingApproval", None),
        ("AwaitingApproval", "approval escalated"),
        ("Rejected", TIMED_OUT),
    ]
    assert stubs.names(oid)[-3:] == ["refund_payment", "release_stock", "set_order_status"]
    started = {e["EventType"]: e for e in host.raw_history(instance_id_for(oid))}
    assert 10 in started  # durable timers, not sleeps


def test_a_malformed_decision_never_approves(paused: DevHostProcess, stubs: Stubs) -> None:
    order = new_order(LARGE)
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    paused.raise_event(iid, APPROVAL_EVENT, {"approved": "yes"})
    status = paused.wait_for(iid)
    assert status["output"]["status"] == "Rejected"


def test_a_decision_raised_while_the_escalation_runs_is_not_lost(
    paused: DevHostProcess, stubs: Stubs
) -> None:
    """The event reaches the first (timed-out) wait, the only one open at that moment."""
    order = new_order(LARGE)
    oid = order.order_id
    stubs.script(oid, {"set_order_status": ["ok", "sleep:1.5"]})
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    paused.set_time(advance_seconds=25 * 3600)
    escalated = [("AwaitingApproval", None), ("AwaitingApproval", "approval escalated")]
    wait_until(
        lambda: stubs.statuses(oid) == escalated,
        10,
        lambda: f"{stubs.statuses(oid)} == {escalated}",
        interval=0.01,
    )
    paused.raise_event(iid, APPROVAL_EVENT, {"approved": True})  # the escalation still sleeps
    status = paused.wait_for(iid, timeout=20)
    assert status["output"]["status"] == "Completed"
    # The race did happen: the event is in the history before the escalation finished (the
    # completion of the second set_order_status, the one that slept).
    history = paused.raw_history(iid)
    status_calls = [
        e["EventId"] for e in history if e["EventType"] == 4 and e["Name"] == "set_order_status"
    ]
    escalated_done = next(
        i
        for i, e in enumerate(history)
        if e["EventType"] == 5 and e["TaskScheduledId"] == status_calls[1]
    )
    assert [e["EventType"] for e in history].index(15) < escalated_done


# -- returning results: numbered updates, the reply and the webhook ----------------------------


def test_updates_are_numbered_in_order_and_the_outcome_goes_to_every_channel(
    host: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order()
    oid, hook = order.order_id, "https://hooks.example.com/orders"
    iid = start(host, order, ResultRouting(reply_queue="replies", callback_url=hook))
    status = host.wait_for(iid)
    published = stubs.published(oid)
    updates = [p["update"] for p in published]
    assert [(u["sequence"], u["kind"], u["step"], u["status"]) for u in updates] == [
        (1, "milestone", "recorded", "Received"),
        (2, "milestone", "paid", "Paid"),
        (3, "milestone", "shipped", "Shipped"),
        (4, "completed", "completed", "Completed"),
    ]
    assert all(u["job_id"] == iid and u["job_type"] == "order" for u in updates)
    assert all(u["correlation_id"] == "corr-1" for u in updates)
    assert [u["progress"] for u in updates] == sorted(u["progress"] for u in updates)
    assert updates[-1]["result"] == status["output"]
    assert all(p["routing"] == {"reply_queue": "replies", "callback_url": hook} for p in published)
    # The final update goes to the webhook once, with a delivery id stable across retries.
    [webhook] = stubs.webhooks(oid)
    assert webhook == {
        "url": hook,
        "event": updates[-1],
        "delivery_id": f"{iid}:4",
        "correlation_id": "corr-1",
    }


def test_a_failed_order_publishes_its_end_and_a_failed_publish_does_not_change_it(
    host: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"take_payment": ["permanent:payment declined: card"]})
    status = run(host, order)
    assert status["output"]["status"] == "Failed"
    updates = [p["update"] for p in stubs.published(oid)]
    assert [(u["sequence"], u["kind"], u["status"]) for u in updates] == [
        (1, "milestone", "Received"),
        (2, "ended", "Failed"),
    ]
    assert updates[-1]["result"]["reason"] == "payment declined: card"
    assert stubs.webhooks(oid) == []  # no callback URL was given

    unpublished = new_order()
    stubs.script(unpublished.order_id, {"publish_fails": True})
    status = run(host, unpublished)
    assert status["output"]["status"] == "Completed"  # results are best effort
    attempts = [p["update"]["sequence"] for p in stubs.published(unpublished.order_id)]
    assert attempts == [1, 2, 3, 4]  # a permanent failure is not retried


# -- cancellation (POST /api/orders/{id}/cancel) --------------------------------------------


def cancel(host: DevHostProcess, order_id: str, reason: str | None = None) -> requests.Response:
    body = {} if reason is None else {"reason": reason}
    return host.http.post(host.url(f"/api/orders/{order_id}/cancel"), json=body, timeout=30)


def wait_for_step_running(host: DevHostProcess, instance_id: str, step: str) -> None:
    """Like wait_for_step, without waiting for idle (an activity is still running)."""
    wait_until(
        lambda: ((host.status(instance_id) or {}).get("customStatus") or {}).get("step") == step,
        30,
        lambda: f"{instance_id} at step {step} (now: {host.status(instance_id)})",
        interval=0.02,
    )


def test_a_cancel_after_payment_refunds_and_releases(host: DevHostProcess, stubs: Stubs) -> None:
    order = new_order()
    oid = order.order_id
    stubs.script(oid, {"take_payment": ["sleep:1.5"]})
    iid = start(host, order)
    wait_for_step_running(host, iid, "taking_payment")
    response = cancel(host, oid, "changed my mind")
    assert response.status_code == 202, response.text
    status = host.wait_for(iid)
    assert status["output"] == {
        "order_id": oid,
        "status": "Cancelled",
        "reason": "changed my mind",
        "payment_id": f"pay-{oid}",
    }
    assert stubs.names(oid) == [
        "record_order",
        "reserve_stock",
        "take_payment",
        "refund_payment",
        "release_stock",
        "set_order_status",
    ]
    assert stubs.statuses(oid) == [("Cancelled", "changed my mind")]
    assert status["customStatus"] == {"step": "cancelled", "progress": 100}


def test_a_cancel_while_awaiting_approval_ends_the_wait(
    paused: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    assert cancel(paused, oid).status_code == 202
    status = paused.wait_for(iid)
    assert status["runtimeStatus"] == "Completed"  # the approval timer was cancelled
    assert status["output"]["status"] == "Cancelled"
    assert status["output"]["reason"] == "cancelled on request"
    assert "ship_order" not in stubs.names(oid)
    assert stubs.names(oid)[-3:] == ["refund_payment", "release_stock", "set_order_status"]
    assert stubs.statuses(oid) == [
        ("AwaitingApproval", None),
        ("Cancelled", "cancelled on request"),
    ]


def test_a_cancel_while_the_approval_requests_are_queued_ends_the_order(
    paused: DevHostProcess, stubs: Stubs
) -> None:
    """Workflow version 2 asks the approvers first; a cancel that comes meanwhile wins."""
    order = new_order(LARGE)
    oid = order.order_id
    stubs.script(oid, {"request_approval": ["sleep:1.5"]})
    iid = start(paused, order, version=WORKFLOW_VERSION)
    wait_until(lambda: "request_approval" in stubs.names(oid), 30, "the approval requests")
    assert cancel(paused, oid).status_code == 202
    status = paused.wait_for(iid)
    assert status["output"]["status"] == "Cancelled"
    assert stubs.names(oid)[-3:] == ["refund_payment", "release_stock", "set_order_status"]


def test_version_2_asks_the_approvers_then_the_escalation_approvers(
    paused: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order, version=WORKFLOW_VERSION)
    wait_for_step(paused, iid, "awaiting_approval")
    paused.set_time(advance_seconds=POLICY.escalate_after_seconds + 1)
    wait_for_step(paused, iid, "approval_escalated")
    paused.raise_event(iid, APPROVAL_EVENT, {"approved": True})
    assert paused.wait_for(iid)["output"]["status"] == "Completed"
    asked = [p for name, p in stubs.calls(oid) if name == "request_approval"]
    assert [p["stage"] for p in asked] == ["approval", "escalation"]
    assert "send_notification" not in stubs.names(oid)
    # The links expire at the order's final deadline: 72 hours after the wait began.
    assert asked[0]["expires_at"] == asked[1]["expires_at"]


def test_a_finished_or_unknown_order_cannot_be_cancelled(
    host: DevHostProcess, stubs: Stubs
) -> None:
    order = new_order()
    status = run(host, order)
    assert status["output"]["status"] == "Completed"
    refused = cancel(host, order.order_id)
    assert refused.status_code == 409
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert "refund_payment" not in stubs.names(order.order_id)
    assert cancel(host, "o-never-started").status_code == 404
    assert cancel(host, "bad id!").status_code == 404


# -- authenticated approval (POST /api/orders/{id}/approval) --------------------------------


def token(order_id: str, approver: str = "approver-7", hours: float = 1) -> str:
    expires = datetime.now(UTC) + timedelta(hours=hours)
    return issue(order_id, approver, expires, SIGNING_KEY)


def decide(host: DevHostProcess, order_id: str, body: object) -> requests.Response:
    url = host.url(f"/api/orders/{order_id}/approval")
    return host.http.post(url, json=body, timeout=30)


def test_only_a_valid_token_for_the_order_approves_it(paused: DevHostProcess, stubs: Stubs) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    other = f"{oid}-other"
    refusals = {
        "no token": (decide(paused, oid, {"approved": True}), 401),
        "garbage": (decide(paused, oid, {"approved": True, "token": "v1.x.y"}), 401),
        "expired": (decide(paused, oid, {"approved": True, "token": token(oid, hours=-1)}), 401),
        "other key": (
            decide(
                paused,
                oid,
                {
                    "approved": True,
                    "token": issue(
                        oid, "mallory", datetime.now(UTC) + timedelta(hours=1), "z" * 40
                    ),
                },
            ),
            401,
        ),
        "other order": (decide(paused, oid, {"approved": True, "token": token(other)}), 403),
        "bare header": (
            paused.http.post(
                paused.url(f"/api/orders/{oid}/approval"),
                json={"approved": True},
                headers={"X-Approver": "boss", "Authorization": "Bearer boss"},
                timeout=30,
            ),
            401,
        ),
        "not a bool": (decide(paused, oid, {"approved": "yes", "token": token(oid)}), 400),
        # Who decides comes from the token alone: a body that names an approver is refused.
        "approver in the body": (
            decide(paused, oid, {"approved": True, "token": token(oid), "approver": "x"}),
            400,
        ),
    }
    for name, (response, code) in refusals.items():
        assert response.status_code == code, (name, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json"), name
    paused.wait_idle()
    assert paused.status(iid)["customStatus"]["step"] == "awaiting_approval"
    assert [e for e in paused.raw_history(iid) if e["EventType"] == 15] == []

    accepted = decide(paused, oid, {"approved": True, "token": token(oid)})
    assert accepted.status_code == 202, accepted.text
    status = paused.wait_for(iid)
    assert status["output"]["status"] == "Completed"
    (raised,) = [e for e in paused.raw_history(iid) if e["EventType"] == 15]
    decision = json.loads(raised["Input"])
    decision = json.loads(decision) if isinstance(decision, str) else decision
    assert decision == {"approved": True, "approver": "approver-7"}  # from the token
    assert stubs.statuses(oid) == [("AwaitingApproval", None), ("Completed", None)]
    late = decide(paused, oid, {"approved": True, "token": token(oid)})
    assert late.status_code == 409


def test_a_valid_token_can_reject(paused: DevHostProcess, stubs: Stubs) -> None:
    order = new_order(LARGE)
    oid = order.order_id
    iid = start(paused, order)
    wait_for_step(paused, iid, "awaiting_approval")
    body = {"approved": False, "token": token(oid), "reason": "too risky"}
    assert decide(paused, oid, body).status_code == 202
    status = paused.wait_for(iid)
    assert status["output"]["status"] == "Rejected"
    assert status["output"]["reason"] == "too risky"


def test_approval_of_an_unknown_or_small_order(host: DevHostProcess) -> None:
    assert decide(host, "o-nobody", {"approved": True, "token": token("o-nobody")}).status_code == (
        404
    )
    order = new_order()
    run(host, order)
    oid = order.order_id
    assert decide(host, oid, {"approved": True, "token": token(oid)}).status_code == 409
