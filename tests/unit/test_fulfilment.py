"""The order workflow's payloads round-trip through JSON; approval decisions fail closed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from domain.fulfilment import (
    PROGRESS,
    ApprovalDecision,
    ApprovalPolicy,
    Step,
    WorkflowInput,
    WorkflowResult,
    custom_status,
)
from domain.job_updates import ResultRouting
from domain.orders import Order, OrderLine, OrderStatus

POLICY = ApprovalPolicy(100_000, timedelta(hours=24), timedelta(hours=72))
ORDER = Order("o-1", "ref-1", "EUR", (OrderLine("SKU-1", 2, 1_500), OrderLine("SKU-2", 1, 10)))


def roundtrip(data: dict) -> dict:
    return json.loads(json.dumps(data))


def test_workflow_input_round_trips_through_json() -> None:
    run = WorkflowInput(ORDER, "2026-11-22T10:00:00+00:00", POLICY, "corr-1")
    assert WorkflowInput.from_dict(roundtrip(run.to_dict())) == run
    routed = WorkflowInput(ORDER, "t", POLICY, "c", ResultRouting("replies", "https://h.example/x"))
    assert WorkflowInput.from_dict(roundtrip(routed.to_dict())) == routed
    assert WorkflowInput.from_dict(roundtrip(WorkflowInput(ORDER, "t", POLICY).to_dict())) == (
        WorkflowInput(ORDER, "t", POLICY, None)
    )


def test_approval_policy_round_trips_and_refuses_nonsense() -> None:
    assert ApprovalPolicy.from_dict(roundtrip(POLICY.to_dict())) == POLICY
    with pytest.raises(ValueError):
        ApprovalPolicy(100, timedelta(hours=80), timedelta(hours=72))
    with pytest.raises(ValueError):
        ApprovalPolicy(100, timedelta(0), timedelta(hours=72))
    with pytest.raises(ValueError):
        ApprovalPolicy(-1, timedelta(hours=1), timedelta(hours=2))


def test_workflow_result_round_trips_and_omits_what_is_unset() -> None:
    full = WorkflowResult("o-1", OrderStatus.COMPLETED, None, "pay-1", "track-1")
    assert WorkflowResult.from_dict(roundtrip(full.to_dict())) == full
    failed = WorkflowResult("o-1", OrderStatus.FAILED, "out of stock: SKU-1")
    assert failed.to_dict() == {
        "order_id": "o-1",
        "status": "Failed",
        "reason": "out of stock: SKU-1",
    }
    assert WorkflowResult.from_dict(roundtrip(failed.to_dict())) == failed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"approved": True}, ApprovalDecision(True)),
        ({"approved": False, "reason": "too risky"}, ApprovalDecision(False, "too risky")),
        ('{"approved": true}', ApprovalDecision(True)),  # the SDK's double-encoded data
        ({"approved": "yes"}, ApprovalDecision(False)),
        ({"approved": 1}, ApprovalDecision(False)),
        ({}, ApprovalDecision(False)),
        (True, ApprovalDecision(False, "unreadable approval decision")),
        ("not json", ApprovalDecision(False, "unreadable approval decision")),
        (None, ApprovalDecision(False, "unreadable approval decision")),
    ],
)
def test_only_an_explicit_approval_approves(value: object, expected: ApprovalDecision) -> None:
    assert ApprovalDecision.parse(value) == expected


def test_a_decision_reason_is_bounded() -> None:
    decision = ApprovalDecision.parse({"approved": False, "reason": "x" * 5000})
    assert decision.reason is not None and len(decision.reason) == ApprovalDecision.MAX_REASON
    assert ApprovalDecision.parse({"approved": True, "reason": 42}).reason is None


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
