"""Every path of the order workflow on devhost, with scripted stub activities and virtual time.

The app (tests/apps/order_stubs) runs the real orchestrator over same-named stub activities,
so each path, failure and retry is forced exactly; test_order_workflow.py runs the real ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess
from domain.fulfilment import ApprovalPolicy, WorkflowInput
from domain.orders import Order, OrderLine, instance_id_for
from orchestrators.approval import APPROVAL_EVENT, TIMED_OUT

APP = Path(__file__).resolve().parent.parent / "apps" / "order_stubs"
POLICY = ApprovalPolicy(
    threshold_cents=100_000, escalate_after=timedelta(hours=24), timeout=timedelta(hours=72)
)
SMALL, LARGE = 2_500, 250_000


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

    def statuses(self, order_id: str) -> list[tuple[str, str | None]]:
        return [
            (p["status"], p.get("reason"))
            for name, p in self.calls(order_id)
            if name == "set_order_status"
        ]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[DevHostProcess]:
    state = tmp_path_factory.mktemp("order-paths")
    env = {"ORDER_STUBS_DIR": str(state), "AzureWebJobsStorage": azurite.connection_string}
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
    return Order(order_id, "ref-123", "EUR", (line,))


def start(host: DevHostProcess, order: Order) -> str:
    run = WorkflowInput(order, "2026-11-22T00:00:00+00:00", POLICY, "corr-1")
    return host.start_orchestration("process_order", run.to_dict(), instance_id_for(order.order_id))


def run(host: DevHostProcess, order: Order) -> dict[str, Any]:
    return host.wait_for(start(host, order))


def wait_for_step(host: DevHostProcess, instance_id: str, step: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = host.status(instance_id) or {}
        if (status.get("customStatus") or {}).get("step") == step:
            host.wait_idle()
            return
        time.sleep(0.02)
    raise AssertionError(f"{instance_id} never reached step {step}: {status}")


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
        "order": order.to_dict(),
        "received_at": "2026-11-22T00:00:00+00:00",
        **corr,
    }
    assert calls["reserve_stock"] == {"order_id": oid, "lines": order.to_dict()["lines"], **corr}
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
    deadline = time.monotonic() + 10
    while stubs.statuses(oid) != [
        ("AwaitingApproval", None),
        ("AwaitingApproval", "approval escalated"),
    ]:
        assert time.monotonic() < deadline, stubs.statuses(oid)
        time.sleep(0.01)
    paused.raise_event(iid, APPROVAL_EVENT, {"approved": True})  # the escalation still sleeps
    status = paused.wait_for(iid, timeout=20)
    assert status["output"]["status"] == "Completed"
    # The race did happen: the event is in the history before the escalation finished (the
    # sixth activity completion: record, reserve, pay, status, notification, status).
    kinds = [e["EventType"] for e in paused.raw_history(iid)]
    completions = [i for i, kind in enumerate(kinds) if kind == 5]
    assert kinds.index(15) < completions[5]
