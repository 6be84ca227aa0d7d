"""The order workflow's representative paths, on the order_stubs app (the real orchestrator and
triggers over scripted stub activities; see tests/apps/order_stubs/function_app.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devhost.azurite import Azurite
from domain.approval_tokens import issue
from domain.fulfilment import ApprovalPolicy, WorkflowInput
from domain.job_updates import ResultRouting
from domain.orders import Order, OrderLine, instance_id_for
from orchestrators.approval import APPROVAL_EVENT
from scripts.record_histories.recording import Case, Session, Suite

APP = Path(__file__).resolve().parents[2] / "tests" / "apps" / "order_stubs"
POLICY = ApprovalPolicy(
    threshold_cents=100_000,
    escalate_after_seconds=timedelta(hours=24).total_seconds(),
    timeout_seconds=timedelta(hours=72).total_seconds(),
)
SMALL, LARGE = 2_500, 250_000
# A throwaway key for the local approval route; it signs nothing outside the recording run.
SIGNING_KEY = "record-histories-approval-signing-key-0123456789"
RECEIVED_AT = "2026-11-22T00:00:00+00:00"


def _env(folder: Path, azurite: Azurite | None) -> dict[str, str]:
    assert azurite is not None
    return {
        "ORDER_STUBS_DIR": str(folder),
        "AzureWebJobsStorage": azurite.connection_string,
        "APPROVAL_SIGNING_KEY": SIGNING_KEY,
    }


def _order(case: str, amount_cents: int) -> Order:
    line = OrderLine(sku="SKU-1", quantity=1, unit_price_cents=amount_cents)
    return Order(
        order_id=f"hist-{case.replace('_', '-')}",
        customer_ref="ref-123",
        currency="EUR",
        lines=(line,),
    )


def _script(session: Session, order_id: str, plan: dict[str, Any]) -> None:
    """What the stub activities do for this order (see the order_stubs app's docstring)."""
    path = session.folder / "script.json"
    script = json.loads(path.read_text()) if path.exists() else {}
    script[order_id] = plan
    path.write_text(json.dumps(script))


def _start(
    session: Session,
    order: Order,
    *,
    paused: bool = False,
    routing: ResultRouting | None = None,
) -> str:
    session.host.set_time(auto_advance=not paused)
    run = WorkflowInput(
        order=order,
        received_at=RECEIVED_AT,
        approval=POLICY,
        correlation_id="corr-1",
        routing=routing or ResultRouting(),
    )
    return session.host.start_orchestration(
        "process_order", run.dump(), instance_id_for(order.order_id)
    )


def _step(session: Session, instance_id: str, step: str, *, idle: bool = True) -> None:
    """Wait until the workflow's custom status shows `step` (and devhost is idle, if asked)."""
    deadline = time.monotonic() + 60
    while ((session.host.status(instance_id) or {}).get("customStatus") or {}).get("step") != step:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{instance_id} never reached step {step}")
        time.sleep(0.02)
    if idle:
        session.host.wait_idle()


def _post(session: Session, path: str, body: dict[str, Any]) -> None:
    response = session.host.http.post(session.host.url(path), json=body, timeout=30)
    if response.status_code != 202:
        raise RuntimeError(f"POST {path}: HTTP {response.status_code} {response.text}")


def _decide(session: Session, order: Order, approved: bool, reason: str | None = None) -> None:
    """Through the app's approval route, with a signed token, as an approver would."""
    expires = datetime.now(UTC) + timedelta(hours=1)
    body: dict[str, Any] = {
        "approved": approved,
        "token": issue(order.order_id, "approver-7", expires, SIGNING_KEY),
    }
    if reason is not None:
        body["reason"] = reason
    _post(session, f"/api/orders/{order.order_id}/approval", body)


def _cancel(session: Session, order: Order, reason: str | None = None) -> None:
    """Through the app's cancel route, as a customer would."""
    _post(
        session,
        f"/api/orders/{order.order_id}/cancel",
        {} if reason is None else {"reason": reason},
    )


def _scripted(name: str, plan: dict[str, Any], **start: Any) -> Callable[[Session], str]:
    """A case that scripts the stubs, starts the order and lets it run to its end."""

    amount_cents = start.pop("amount_cents", SMALL)

    def drive(session: Session) -> str:
        order = _order(name, amount_cents)
        if plan:
            _script(session, order.order_id, plan)
        instance_id = _start(session, order, **start)
        session.host.wait_for(instance_id)
        return instance_id

    return drive


def _approved(session: Session) -> str:
    order = _order("approval_approved", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    _decide(session, order, approved=True)
    session.host.wait_for(instance_id)
    return instance_id


def _rejected(session: Session) -> str:
    order = _order("approval_rejected", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    _decide(session, order, approved=False, reason="too risky")
    session.host.wait_for(instance_id)
    return instance_id


def _escalated_then_approved(session: Session) -> str:
    order = _order("approval_escalated_approved", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    session.host.set_time(advance_seconds=25 * 3600)
    _step(session, instance_id, "approval_escalated")
    _decide(session, order, approved=True)
    session.host.wait_for(instance_id)
    return instance_id


def _malformed_decision(session: Session) -> str:
    """An event that bypassed the route's validation never approves."""
    order = _order("approval_malformed", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    session.host.raise_event(instance_id, APPROVAL_EVENT, {"approved": "yes"})
    session.host.wait_for(instance_id)
    return instance_id


def _cancelled_after_payment(session: Session) -> str:
    order = _order("cancelled_after_payment", SMALL)
    _script(session, order.order_id, {"take_payment": ["sleep:1.5"]})
    instance_id = _start(session, order)
    _step(session, instance_id, "taking_payment", idle=False)
    _cancel(session, order, "changed my mind")
    session.host.wait_for(instance_id)
    return instance_id


def _cancelled_awaiting_approval(session: Session) -> str:
    order = _order("cancelled_awaiting_approval", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    _cancel(session, order)
    session.host.wait_for(instance_id)
    return instance_id


def _waiting_for_approval(session: Session) -> str:
    """Recorded in flight: the state a deploy meets during an approval wait of days."""
    order = _order("awaiting_approval", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    return instance_id


def _escalated_waiting(session: Session) -> str:
    """In flight after the escalation: two timers and two waits open."""
    order = _order("escalated_awaiting_approval", LARGE)
    instance_id = _start(session, order, paused=True)
    _step(session, instance_id, "awaiting_approval")
    session.host.set_time(advance_seconds=25 * 3600)
    _step(session, instance_id, "approval_escalated")
    return instance_id


HOOK = "https://hooks.example.com/orders"

CASES = (
    Case("happy", "small order: record, reserve, pay, ship, confirm", _scripted("happy", {})),
    Case(
        "happy_with_routing",
        "happy path with a reply queue and a webhook for the outcome",
        _scripted(
            "happy_with_routing",
            {},
            routing=ResultRouting(reply_queue="replies", callback_url=HOOK),
        ),
    ),
    Case(
        "payment_declined",
        "permanent payment failure: stock released, order Failed",
        _scripted(
            "payment_declined", {"take_payment": ["permanent:payment declined: insufficient"]}
        ),
    ),
    Case(
        "shipping_failed",
        "permanent shipping failure: refund, release stock, Failed",
        _scripted("shipping_failed", {"ship_order": ["permanent:carrier refused the parcel"]}),
    ),
    Case(
        "transient_retries",
        "two transient payment failures retried with backoff timers, then Completed",
        _scripted("transient_retries", {"take_payment": ["transient", "transient"]}),
    ),
    Case(
        "shipping_out_of_retries",
        "shipping fails transiently four times: compensated, Failed",
        _scripted("shipping_out_of_retries", {"ship_order": ["transient"] * 4}),
    ),
    Case(
        "payment_out_of_retries",
        "payment fails transiently four times: refund by the order's charge key, Failed",
        _scripted("payment_out_of_retries", {"take_payment": ["transient"] * 4}),
    ),
    Case(
        "compensation_retried",
        "shipping fails; the refund is retried twice and succeeds",
        _scripted(
            "compensation_retried",
            {"ship_order": ["permanent:no carrier"], "refund_payment": ["transient", "transient"]},
        ),
    ),
    Case(
        "compensation_failed",
        "shipping fails; the refund fails permanently, the stock is still released",
        _scripted(
            "compensation_failed",
            {"ship_order": ["permanent:no carrier"], "refund_payment": ["permanent:card closed"]},
        ),
    ),
    Case(
        "confirmation_failed",
        "the confirmation email fails: the shipped order still Completes",
        _scripted("confirmation_failed", {"send_confirmation": ["permanent:mailbox unknown"]}),
    ),
    Case(
        "record_failed",
        "the order store refuses the row: nothing to compensate",
        _scripted("record_failed", {"record_order": ["permanent:order store refused the row"]}),
    ),
    Case(
        "already_processed",
        "the order store says an earlier run finished the order",
        _scripted("already_processed", {"record_status": "Completed"}),
    ),
    Case(
        "publish_failed",
        "publishing job updates fails permanently: best effort, still Completed",
        _scripted("publish_failed", {"publish_fails": True}),
    ),
    Case("approval_approved", "large order approved through the approval route", _approved),
    Case("approval_rejected", "large order rejected: refund, release, Rejected", _rejected),
    Case(
        "approval_escalated_approved",
        "no decision for 24 h: escalation notice, then approved",
        _escalated_then_approved,
    ),
    Case(
        "approval_timed_out",
        "no decision for 72 h: escalated, then rejected as timed out",
        _scripted("approval_timed_out", {}, amount_cents=LARGE),
    ),
    Case("approval_malformed", "a malformed decision event never approves", _malformed_decision),
    Case(
        "cancelled_after_payment",
        "cancelled while the payment runs: refund, release, Cancelled",
        _cancelled_after_payment,
    ),
    Case(
        "cancelled_awaiting_approval",
        "cancelled during the approval wait: the wait ends, compensated",
        _cancelled_awaiting_approval,
    ),
    Case(
        "awaiting_approval",
        "in flight: waiting for an approval decision (Running)",
        _waiting_for_approval,
    ),
    Case(
        "escalated_awaiting_approval",
        "in flight: escalated, still waiting for a decision (Running)",
        _escalated_waiting,
    ),
)

SUITE = Suite("process_order", APP, CASES, env=_env, azurite=True)
