"""The order workflow's payloads round-trip through JSON; approval decisions fail closed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from domain.fulfilment import (
    MAX_DECISION_REASON,
    PROGRESS,
    UNREADABLE_DECISION,
    ApprovalDecision,
    ApprovalPolicy,
    Step,
    WorkflowInput,
    WorkflowResult,
    custom_status,
)
from domain.job_updates import ResultRouting
from domain.orders import Order, OrderLine, OrderStatus
from domain.payload import InvalidPayload, read

POLICY = ApprovalPolicy(
    threshold_cents=100_000, escalate_after_seconds=86_400.0, timeout_seconds=259_200.0
)
LINES = (
    OrderLine(sku="SKU-1", quantity=2, unit_price_cents=1_500),
    OrderLine(sku="SKU-2", quantity=1, unit_price_cents=10),
)
ORDER = Order(order_id="o-1", customer_ref="ref-1", currency="EUR", lines=LINES)
RECORDED_INPUT = {  # as tests/histories/process_order holds it, routing nulls included
    "order": {**ORDER.dump(), "express": False},
    "received_at": "2026-11-22T00:00:00+00:00",
    "approval": {
        "threshold_cents": 100000,
        "escalate_after_seconds": 86400.0,
        "timeout_seconds": 259200.0,
    },
    "correlation_id": "corr-1",
    "routing": {"reply_queue": None, "callback_url": None},
}


def roundtrip(data: dict) -> dict:
    return json.loads(json.dumps(data))


def test_workflow_input_round_trips_through_json() -> None:
    run = WorkflowInput(
        order=ORDER, received_at="2026-11-22T10:00:00+00:00", approval=POLICY, correlation_id="c"
    )
    assert read(WorkflowInput, roundtrip(run.dump())) == run
    routing = ResultRouting(reply_queue="replies", callback_url="https://h.example/x")
    routed = WorkflowInput(order=ORDER, received_at="t", approval=POLICY, routing=routing)
    assert read(WorkflowInput, roundtrip(routed.dump())) == routed


def test_a_recorded_workflow_input_still_reads() -> None:
    run = read(WorkflowInput, RECORDED_INPUT)
    assert run.order == ORDER and run.approval == POLICY
    assert run.routing == ResultRouting() and run.correlation_id == "corr-1"
    older = {k: v for k, v in RECORDED_INPUT.items() if k not in ("routing", "correlation_id")}
    assert read(WorkflowInput, {**older, "added_later": 1}).routing == ResultRouting()


def test_approval_policy_refuses_nonsense() -> None:
    assert POLICY.escalate_after == timedelta(hours=24) and POLICY.timeout == timedelta(hours=72)
    for threshold, escalate, timeout in ((100, 80.0, 72.0), (100, 0.0, 72.0), (-1, 1.0, 2.0)):
        with pytest.raises(InvalidPayload):
            read(
                ApprovalPolicy,
                {
                    "threshold_cents": threshold,
                    "escalate_after_seconds": escalate,
                    "timeout_seconds": timeout,
                },
            )


def test_workflow_result_round_trips_and_omits_what_is_unset() -> None:
    full = WorkflowResult(
        order_id="o-1", status=OrderStatus.COMPLETED, payment_id="pay-1", tracking_id="track-1"
    )
    assert read(WorkflowResult, roundtrip(full.dump())) == full
    failed = WorkflowResult(order_id="o-1", status=OrderStatus.FAILED, reason="out of stock")
    assert failed.dump() == {"order_id": "o-1", "status": "Failed", "reason": "out of stock"}


UNREADABLE = ApprovalDecision(approved=False, reason=UNREADABLE_DECISION)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"approved": True}, ApprovalDecision(approved=True)),
        (
            {"approved": False, "reason": "too risky"},
            ApprovalDecision(approved=False, reason="too risky"),
        ),
        ('{"approved": true}', ApprovalDecision(approved=True)),  # the SDK's double encoding
        (
            {"approved": True, "approver": "a-1", "new": 1},
            ApprovalDecision(approved=True, approver="a-1"),
        ),
        ({"approved": "yes"}, ApprovalDecision(approved=False)),
        ({"approved": 1}, ApprovalDecision(approved=False)),
        ({"approved": True, "reason": 42}, ApprovalDecision(approved=True)),
        ({}, ApprovalDecision(approved=False)),
        (True, UNREADABLE),
        ("not json", UNREADABLE),
        (None, UNREADABLE),
    ],
)
def test_only_an_explicit_approval_approves(value: object, expected: ApprovalDecision) -> None:
    assert ApprovalDecision.parse(value) == expected


# The event data the recorded histories hold (tests/histories/process_order/approval_*.json):
# the SDK double-encodes raised events as JSON text.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '{"approved": true, "approver": "approver-7"}',
            ApprovalDecision(approved=True, approver="approver-7"),
        ),
        (
            '{"approved": false, "approver": "approver-7", "reason": "too risky"}',
            ApprovalDecision(approved=False, reason="too risky", approver="approver-7"),
        ),
        ({"approved": "yes"}, ApprovalDecision(approved=False)),  # approval_malformed.json
        ('{"approved": "yes"}', ApprovalDecision(approved=False)),
    ],
)
def test_recorded_decisions_read_as_they_always_did(
    value: object, expected: ApprovalDecision
) -> None:
    assert ApprovalDecision.parse(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"approved": None}, ApprovalDecision(approved=False)),
        ({"approved": "true"}, ApprovalDecision(approved=False)),
        ({"approved": 1.0, "approver": "a-1"}, ApprovalDecision(approved=False, approver="a-1")),
        ({"approved": True, "reason": "", "approver": ""}, ApprovalDecision(approved=True)),
        ({"approved": True, "reason": None}, ApprovalDecision(approved=True)),
        ({"approved": False, "reason": ["x"], "approver": 5}, ApprovalDecision(approved=False)),
        ({"approved": True, "reason": " "}, ApprovalDecision(approved=True, reason=" ")),
        ('{"approved": 1}', ApprovalDecision(approved=False)),
        ('{"approved": true, "reason": {"a": 1}}', ApprovalDecision(approved=True)),
        ("[true]", UNREADABLE),
        ("null", UNREADABLE),
        ('"{\\"approved\\": true}"', UNREADABLE),  # encoded twice over: text, not an object
        ('{"approved": true', UNREADABLE),
        ("", UNREADABLE),
        (b'{"approved": true}', UNREADABLE),
        ([{"approved": True}], UNREADABLE),
        (1, UNREADABLE),
    ],
)
def test_malformed_event_data_fails_closed(value: object, expected: ApprovalDecision) -> None:
    assert ApprovalDecision.parse(value) == expected


def test_a_decision_reason_is_bounded() -> None:
    decision = ApprovalDecision.parse({"approved": False, "reason": "x" * 5000})
    assert decision.reason is not None and len(decision.reason) == MAX_DECISION_REASON


def test_every_step_has_a_progress_and_progress_never_goes_back_on_the_happy_path() -> None:
    assert set(PROGRESS) == set(Step)
    happy = [Step.RECORDING, Step.RESERVING_STOCK, Step.TAKING_PAYMENT, Step.AWAITING_APPROVAL]
    happy += [Step.APPROVAL_ESCALATED, Step.SHIPPING, Step.CONFIRMING, Step.COMPLETED]
    values = [PROGRESS[step] for step in happy]
    assert values == sorted(values) and values[-1] == 100
    assert custom_status(Step.SHIPPING) == {"step": "shipping", "progress": 70}


def test_cancel_reasons_are_read_like_decisions() -> None:
    from domain.fulfilment import DEFAULT_CANCEL_REASON, cancel_reason

    assert cancel_reason('{"reason": " changed my mind "}') == "changed my mind"
    assert cancel_reason({"reason": "x" * 500}) == "x" * 200
    assert cancel_reason(None) == DEFAULT_CANCEL_REASON
    assert cancel_reason("not json") == DEFAULT_CANCEL_REASON
    assert cancel_reason('"{\\"reason\\": \\"x\\"}"') == DEFAULT_CANCEL_REASON
    assert cancel_reason({"reason": 5}) == DEFAULT_CANCEL_REASON
    assert cancel_reason({"reason": "  "}) == DEFAULT_CANCEL_REASON
    assert cancel_reason({"reason": "late", "by": "x"}) == "late"
    assert cancel_reason('{"reason": "changed my mind"}') == "changed my mind"  # as recorded
