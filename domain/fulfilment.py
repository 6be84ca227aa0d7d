"""The order workflow's payloads and rules: its input, steps, approval decisions and result."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from domain.approval_tokens import MAX_TOKEN_LENGTH
from domain.job_updates import ResultRouting
from domain.orders import Order, OrderStatus
from domain.payload import Model


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


class ApprovalPolicy(Model):
    """When an order waits for a human, and for how long before escalating and auto-rejecting."""

    threshold_cents: Annotated[int, Field(ge=0)]
    escalate_after_seconds: Annotated[float, Field(gt=0)]
    timeout_seconds: float

    @model_validator(mode="after")
    def _escalates_before_the_timeout(self) -> ApprovalPolicy:
        if self.escalate_after_seconds > self.timeout_seconds:
            raise ValueError("escalate_after_seconds: at most timeout_seconds")
        return self

    @property
    def escalate_after(self) -> timedelta:
        return timedelta(seconds=self.escalate_after_seconds)

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.timeout_seconds)


class WorkflowInput(Model):
    """What a starter hands the order workflow: the order (no personal data) and its settings.

    Orchestrators must not read the environment (a setting changed between replays would make
    them non-deterministic), so the starter resolves settings once and passes them here.
    """

    order: Order
    received_at: str  # passed on to record_order as it came, so replayed inputs match
    approval: ApprovalPolicy
    correlation_id: str | None = None
    routing: ResultRouting = ResultRouting()
    # Absent (1) in inputs recorded before version 2, so those orders replay as they ran.
    version: int = 1


# 2: approval requests go to the approvers when an order starts waiting and at escalation.
WORKFLOW_VERSION = 2


MAX_DECISION_REASON = 200
UNREADABLE_DECISION = "unreadable approval decision"


E = TypeVar("E", bound=Model)


def _event_data(model: type[E], value: Any, *, strict: bool) -> E:
    """An external event's data as `model`, unknown members ignored; the SDK's raise_event may
    double-encode it as JSON text. ValidationError when it is not such an object."""
    if isinstance(value, str):
        return model.model_validate_json(value, strict=strict, extra="ignore")
    return model.model_validate(value, strict=strict, extra="ignore")


def _fail_closed(default: Any) -> WrapValidator:
    """A member that is not what its type says reads as `default`, and the rest still counts:
    a decision is never approved, nor refused as unreadable, because of a bad reason."""

    def read_member(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return default

    return WrapValidator(read_member)


class ApprovalRequest(Model):
    """POST /api/orders/{order_id}/approval. A missing, null or empty token is answered 401 (the
    caller is not authenticated), not 400."""

    approved: bool
    token: str | None = Field(
        None,
        description="A signed, expiring approval token for this order (domain/approval_tokens.py).",
    )
    reason: str | None = Field(
        None, description=f"Kept to its first {MAX_DECISION_REASON} characters."
    )

    def decision(self, approver: str) -> ApprovalDecision:
        """The event the workflow waits for; a blank reason is no reason."""
        reason = (self.reason or "").strip() or None
        return ApprovalDecision(approved=self.approved, reason=reason, approver=approver)


class ApprovalLinkRequest(Model):
    """POST /api/approvals/summary: the token from an approval link's fragment, in a body."""

    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class ApprovalLinkDecision(ApprovalLinkRequest):
    """POST /api/approvals/decision: the token decides; no order id (the token names it)."""

    approved: bool
    reason: str | None = Field(
        None, description=f"Kept to its first {MAX_DECISION_REASON} characters."
    )

    def decision(self, approver: str) -> ApprovalDecision:
        return ApprovalRequest(approved=self.approved, reason=self.reason).decision(approver)


DecisionReason = Annotated[str, AfterValidator(lambda text: text[:MAX_DECISION_REASON])]


class ApprovalDecision(Model):
    """A human's answer to an approval request: approved, or not with an optional reason."""

    approved: bool
    reason: DecisionReason | None = None
    approver: str | None = None

    @classmethod
    def parse(cls, value: Any) -> ApprovalDecision:
        """Read an `ApprovalDecision` event's data; anything but `approved: true` is a rejection,
        and data that is not an object is an unreadable one (recorded histories replay on this
        reading)."""
        try:
            data = _event_data(_DecisionData, value, strict=True)
        except ValidationError:
            return cls(approved=False, reason=UNREADABLE_DECISION)
        return cls.model_validate(data.model_dump())


# An empty text is no text.
_Text = Annotated[Annotated[str, Field(min_length=1)] | None, _fail_closed(None)]


class _DecisionData(Model):
    """How the event's data is read, failing closed: only JSON `true` approves ("yes" and 1 do
    not), and a reason or approver that is not a non-empty text is left out."""

    approved: Annotated[bool, _fail_closed(False)] = False
    reason: _Text = None  # cut to its first MAX_DECISION_REASON characters by ApprovalDecision
    approver: _Text = None


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
    """The reason a `CancelOrder` event gives, or a default one."""
    try:
        return _event_data(CancelRequest, value, strict=False).effective_reason
    except ValidationError:
        return DEFAULT_CANCEL_REASON


class WorkflowResult(Model):
    """The orchestration's output: ids and outcome only, so it is safe in any status response."""

    order_id: str
    status: OrderStatus
    reason: str | None = None
    payment_id: str | None = None
    tracking_id: str | None = None
