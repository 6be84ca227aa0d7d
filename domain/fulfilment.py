"""The order workflow's payloads and rules: its input, steps, approval decisions and result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field

from domain.job_updates import ResultRouting
from domain.orders import Order, OrderStatus
from domain.payload import InvalidPayload, Model, read


class Step(StrEnum):
    """Where the workflow is, as callers see it in the orchestration's custom status."""

    RECORDING = "recording"
    RESERVING_STOCK = "reserving_stock"
    TAKING_PAYMENT = "taking_payment"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVAL_ESCALATED = "approval_escalated"
    SHIPPING = "shipping"
    CONFIRMING = "confirming"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


# A rough share of the work done when each step starts; terminal steps are 100 %.
PROGRESS: dict[Step, int] = {
    Step.RECORDING: 5,
    Step.RESERVING_STOCK: 20,
    Step.TAKING_PAYMENT: 40,
    Step.AWAITING_APPROVAL: 55,
    Step.APPROVAL_ESCALATED: 60,
    Step.SHIPPING: 70,
    Step.CONFIRMING: 85,
    Step.COMPENSATING: 90,
    Step.COMPLETED: 100,
    Step.FAILED: 100,
    Step.REJECTED: 100,
    Step.CANCELLED: 100,
}

# The milestones a job publishes on the way (name, progress); the outcome is published last.
MILESTONES: dict[OrderStatus, tuple[str, int]] = {
    OrderStatus.RECEIVED: ("recorded", 10),
    OrderStatus.PAID: ("paid", 50),
    OrderStatus.AWAITING_APPROVAL: ("awaiting_approval", 55),
    OrderStatus.SHIPPED: ("shipped", 80),
}

# Once the goods may be on their way a cancellation is refused: the order completes.
NOT_CANCELLABLE = frozenset(
    {Step.SHIPPING, Step.CONFIRMING, Step.COMPENSATING, Step.COMPLETED}
    | {Step.FAILED, Step.REJECTED, Step.CANCELLED}
)
AWAITING_DECISION = frozenset({Step.AWAITING_APPROVAL, Step.APPROVAL_ESCALATED})


def custom_status(step: Step) -> dict[str, Any]:
    """The orchestration's custom status: the step and a percentage, never order data."""
    return {"step": str(step), "progress": PROGRESS[step]}


@dataclass(frozen=True)
class ApprovalPolicy:
    """When an order waits for a human, and for how long before escalating and auto-rejecting."""

    threshold_cents: int
    escalate_after: timedelta
    timeout: timedelta

    def __post_init__(self) -> None:
        if self.threshold_cents < 0:
            raise ValueError("threshold_cents must be 0 or more")
        if not timedelta(0) < self.escalate_after <= self.timeout:
            raise ValueError("escalate_after must be positive and at most the timeout")

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold_cents": self.threshold_cents,
            "escalate_after_seconds": self.escalate_after.total_seconds(),
            "timeout_seconds": self.timeout.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApprovalPolicy:
        return cls(
            threshold_cents=int(data["threshold_cents"]),
            escalate_after=timedelta(seconds=data["escalate_after_seconds"]),
            timeout=timedelta(seconds=data["timeout_seconds"]),
        )


@dataclass(frozen=True)
class WorkflowInput:
    """What a starter hands the order workflow: the order (no personal data) and its settings.

    Orchestrators must not read the environment (a setting changed between replays would make
    them non-deterministic), so the starter resolves settings once and passes them here.
    """

    order: Order
    received_at: str
    approval: ApprovalPolicy
    correlation_id: str | None = None
    routing: ResultRouting = field(default_factory=ResultRouting)

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order.to_dict(),
            "received_at": self.received_at,
            "approval": self.approval.to_dict(),
            "correlation_id": self.correlation_id,
            "routing": self.routing.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowInput:
        return cls(
            order=Order.from_dict(data["order"]),
            received_at=data["received_at"],
            approval=ApprovalPolicy.from_dict(data["approval"]),
            correlation_id=data.get("correlation_id"),
            routing=ResultRouting.from_dict(data.get("routing")),
        )


@dataclass(frozen=True)
class ApprovalDecision:
    """A human's answer to an approval request: approved, or not with an optional reason."""

    approved: bool
    reason: str | None = None

    MAX_REASON = 200

    @classmethod
    def parse(cls, value: Any) -> ApprovalDecision:
        """Read an `ApprovalDecision` event's data; anything but `approved: true` is a rejection.

        The SDK's raise_event double-encodes its data, so the value may arrive as JSON text.
        Failing closed means a malformed decision can never approve an order.
        """
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return cls(False, "unreadable approval decision")
        if not isinstance(value, dict):
            return cls(False, "unreadable approval decision")
        reason = value.get("reason")
        reason = reason[: cls.MAX_REASON] if isinstance(reason, str) and reason else None
        return cls(value.get("approved") is True, reason)


DEFAULT_CANCEL_REASON = "cancelled on request"
MAX_CANCEL_REASON = 200


class CancelRequest(Model):
    """The optional body of a cancel request (an order's or a monitor's), and the data of the
    cancel event it raises: why, in the caller's words (trimmed, then cut to the limit)."""

    reason: str | None = Field(
        None, description=f"Why; its first {MAX_CANCEL_REASON} characters are kept."
    )

    @property
    def effective_reason(self) -> str:
        reason = (self.reason or "").strip()
        return reason[:MAX_CANCEL_REASON] if reason else DEFAULT_CANCEL_REASON


def cancel_reason(value: Any) -> str:
    """The reason a `CancelOrder` event gives (JSON text or a dict), or a default one. Event
    data is read leniently: the SDK's raise_event may double-encode it as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    try:
        return read(CancelRequest, value).effective_reason
    except InvalidPayload:
        return DEFAULT_CANCEL_REASON


@dataclass(frozen=True)
class WorkflowResult:
    """The orchestration's output: ids and outcome only, so it is safe in any status response."""

    order_id: str
    status: OrderStatus
    reason: str | None = None
    payment_id: str | None = None
    tracking_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"order_id": self.order_id, "status": str(self.status)}
        for key in ("reason", "payment_id", "tracking_id"):
            value = getattr(self, key)
            if value is not None:
                result[key] = value
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowResult:
        return cls(
            order_id=data["order_id"],
            status=OrderStatus(data["status"]),
            reason=data.get("reason"),
            payment_id=data.get("payment_id"),
            tracking_id=data.get("tracking_id"),
        )
