"""The order workflow (chaining, compensated in reverse): record, reserve, pay, approve, ship."""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.orders import (
    JOB_TYPE,
    RECORD_ORDER,
    REFUND_PAYMENT,
    RELEASE_STOCK,
    REQUEST_APPROVAL,
    RESERVE_STOCK,
    SEND_CONFIRMATION,
    SEND_NOTIFICATION,
    SET_ORDER_STATUS,
    SHIP_ORDER,
    TAKE_PAYMENT,
)
from domain.approvers import Stage
from domain.failures import FailureKind, failure_kind, failure_reason
from domain.fulfilment import (
    MILESTONES,
    Step,
    WorkflowInput,
    WorkflowResult,
    cancel_reason,
    custom_status,
)
from domain.order_payloads import (
    OrderIdInput,
    PaymentResult,
    RecordOrderInput,
    RefundPaymentInput,
    RequestApprovalInput,
    ReserveStockInput,
    SendConfirmationInput,
    SendNotificationInput,
    SetOrderStatusInput,
    ShipmentResult,
    StatusResult,
    TakePaymentInput,
)
from domain.orders import Order, OrderStatus, needs_approval
from domain.payload import Model, read
from domain.retry import RetryPolicy
from orchestrators.approval import wait_for_approval
from orchestrators.cancellation import CancelWatch
from orchestrators.compensation import Compensations
from orchestrators.job_results import JobReporter
from orchestrators.retry import call_activity_with_backoff

logger = logging.getLogger(__name__)

ORCHESTRATOR = "process_order"
ALREADY_PROCESSED = "already processed"

# Forward steps give up after about half a minute of transient failures and compensate;
# compensations are more patient (about half an hour), because giving up leaves money taken.
STEP_RETRY = RetryPolicy(max_attempts=4, first_delay=timedelta(seconds=2))
UNDO_RETRY = RetryPolicy(
    max_attempts=8, first_delay=timedelta(seconds=5), max_delay=timedelta(minutes=10)
)

FINAL_STEP = {
    OrderStatus.COMPLETED: Step.COMPLETED,
    OrderStatus.REJECTED: Step.REJECTED,
    OrderStatus.CANCELLED: Step.CANCELLED,
}

bp = df.Blueprint()


class _Workflow:
    """One run's state; every method that yields is used with `yield from`."""

    def __init__(self, context: df.DurableOrchestrationContext, run: WorkflowInput) -> None:
        self.context = context
        self.run = run
        self.order: Order = run.order
        # Every activity input carries it, for the activity's log lines.
        self.correlation_id = run.correlation_id
        self.undo = Compensations()
        self.recorded = False
        self.payment_id: str | None = None
        # Raced with every step before shipping and with the approval wait, read between steps.
        self.cancel = CancelWatch(context)
        self.cancellable = True
        self.reporter = JobReporter(
            context, JOB_TYPE, run.correlation_id, run.routing, enqueued_at=run.received_at
        )

    def ids(self) -> OrderIdInput:
        """The input of the steps that need only the order (release, ship, refund unknown)."""
        return OrderIdInput(order_id=self.order.order_id, correlation_id=self.correlation_id)

    def step(self, step: Step, activity: str, payload: Model) -> Generator[Any, Any, Any]:
        self.context.set_custom_status(custom_status(step))
        return (
            yield from call_activity_with_backoff(
                self.context,
                activity,
                payload.dump(),
                STEP_RETRY,
                watch=self.cancel.wait if self.cancellable else None,
            )
        )

    def call(self, activity: str, payload: Model) -> Generator[Any, Any, Any]:
        """A bookkeeping step (status, notices, approval requests): patient, never cancelled."""
        return (
            yield from call_activity_with_backoff(
                self.context, activity, payload.dump(), UNDO_RETRY
            )
        )

    def milestone(self, status: OrderStatus) -> Generator[Any, Any, None]:
        name, progress = MILESTONES[status]
        yield from self.reporter.milestone(name, progress, str(status))

    def report(self, result: dict[str, Any]) -> Generator[Any, Any, None]:
        """Publish the outcome (status record, topic, reply, webhook) and log it."""
        outcome = read(WorkflowResult, result)
        step = FINAL_STEP.get(outcome.status, Step.FAILED)
        succeeded = outcome.status is OrderStatus.COMPLETED
        yield from self.reporter.finish(str(step), str(outcome.status), result, succeeded=succeeded)

    @property
    def cancelled(self) -> bool:
        """True once a CancelOrder event arrived; checked between steps, where it wins."""
        return self.cancel.requested

    def cancelled_run(self) -> Generator[Any, Any, dict[str, Any]]:
        reason = cancel_reason(self.cancel.data)
        return (yield from self.compensate(OrderStatus.CANCELLED, reason))

    def set_status(
        self, status: OrderStatus, reason: str | None = None
    ) -> Generator[Any, Any, Any]:
        update = SetOrderStatusInput(
            order_id=self.order.order_id,
            status=status,
            correlation_id=self.correlation_id,
            reason=reason,
        )
        yield from self.call(SET_ORDER_STATUS, update)

    def forward(self) -> Generator[Any, Any, dict[str, Any]]:
        order, order_id = self.order, self.order.order_id
        # The starter wrote received_at with isoformat(): parsed and written back, it is the
        # same text, so the input recorded in the history is what it always was.
        received_at = datetime.fromisoformat(self.run.received_at)
        record = RecordOrderInput(
            order=order, received_at=received_at, correlation_id=self.correlation_id
        )
        recorded = yield from self.step(Step.RECORDING, RECORD_ORDER, record)
        self.recorded = True
        status = read(StatusResult, recorded).status
        if status.is_terminal:
            # An earlier run finished this order and its history was purged: do nothing again.
            self.context.set_custom_status(custom_status(FINAL_STEP.get(status, Step.FAILED)))
            return WorkflowResult(order_id=order_id, status=status, reason=ALREADY_PROCESSED).dump()
        yield from self.milestone(OrderStatus.RECEIVED)

        if self.cancelled:
            return (yield from self.cancelled_run())
        reserve = ReserveStockInput(
            order_id=order_id, lines=order.lines, correlation_id=self.correlation_id
        )
        yield from self.step(Step.RESERVING_STOCK, RESERVE_STOCK, reserve)
        self.undo.add(RELEASE_STOCK, self.ids().dump())
        if self.cancelled:
            return (yield from self.cancelled_run())

        try:
            paid = yield from self.step(
                Step.TAKING_PAYMENT,
                TAKE_PAYMENT,
                TakePaymentInput(
                    order_id=order_id,
                    amount_cents=order.total_cents,
                    currency=order.currency,
                    correlation_id=self.correlation_id,
                ),
            )
            self.payment_id = read(PaymentResult, paid).payment_id
        except Exception as error:
            if failure_kind(error) is not FailureKind.PERMANENT:
                # Out of retries (or an answer without a usable payment id): the last attempt
                # may have charged. Refund whatever the order's charge key took (nothing, if it
                # took nothing).
                self.undo.add(REFUND_PAYMENT, self.ids().dump())
            raise
        refund = RefundPaymentInput(
            order_id=order_id, payment_id=self.payment_id, correlation_id=self.correlation_id
        )
        self.undo.add(REFUND_PAYMENT, refund.dump())
        if self.cancelled:
            return (yield from self.cancelled_run())
        yield from self.milestone(OrderStatus.PAID)

        if needs_approval(order, self.run.approval.threshold_cents):
            self.context.set_custom_status(custom_status(Step.AWAITING_APPROVAL))
            yield from self.set_status(OrderStatus.AWAITING_APPROVAL)
            yield from self.milestone(OrderStatus.AWAITING_APPROVAL)
            if self.cancelled:
                return (yield from self.cancelled_run())
            ask = self.ask_approvers if self.run.version >= 2 else None
            outcome = yield from wait_for_approval(
                self.context, self.run.approval, ask, self.escalate, self.cancel
            )
            if self.cancelled:  # during the wait, or with the decision: cancelling wins
                return (yield from self.cancelled_run())
            if not outcome.decision.approved:
                reason = outcome.decision.reason or "rejected by the approver"
                return (yield from self.compensate(OrderStatus.REJECTED, reason))

        # Shipped goods cannot be unshipped: from here on a cancellation is ignored.
        self.cancellable = False
        shipped = yield from self.step(Step.SHIPPING, SHIP_ORDER, self.ids())
        # Nothing is compensated any more either.
        self.undo.steps.clear()
        tracking_id = read(ShipmentResult, shipped).tracking_id
        yield from self.milestone(OrderStatus.SHIPPED)
        return (yield from self.confirm(tracking_id))

    def ask_approvers(self, deadline: datetime) -> Generator[Any, Any, None]:
        """Queue a request for each approver; their links expire at the final deadline."""
        yield from self.request_approval("approval", deadline)

    def request_approval(self, stage: Stage, deadline: datetime) -> Generator[Any, Any, None]:
        request = RequestApprovalInput(
            order_id=self.order.order_id,
            stage=stage,
            expires_at=deadline,
            correlation_id=self.correlation_id,
        )
        yield from self.call(REQUEST_APPROVAL, request)

    def escalate(self, deadline: datetime) -> Generator[Any, Any, None]:
        """Ask the escalation approvers (before version 2: a bare escalation notice), and
        record the escalation on the order."""
        self.context.set_custom_status(custom_status(Step.APPROVAL_ESCALATED))
        if self.run.version >= 2:
            yield from self.request_approval("escalation", deadline)
        else:
            notice = SendNotificationInput(
                order_id=self.order.order_id, kind="escalation", correlation_id=self.correlation_id
            )
            yield from self.call(SEND_NOTIFICATION, notice)
        yield from self.set_status(OrderStatus.AWAITING_APPROVAL, "approval escalated")

    def confirm(self, tracking_id: str) -> Generator[Any, Any, dict[str, Any]]:
        reason = None
        confirmation = SendConfirmationInput(
            order_id=self.order.order_id,
            customer_ref=self.order.customer_ref,
            correlation_id=self.correlation_id,
        )
        try:
            yield from self.step(Step.CONFIRMING, SEND_CONFIRMATION, confirmation)
        except Exception as error:  # the order is shipped; a missing email does not undo it
            reason = f"confirmation not sent: {failure_reason(error)}"
        yield from self.set_status(OrderStatus.COMPLETED, reason)
        self.context.set_custom_status(custom_status(Step.COMPLETED))
        return WorkflowResult(
            order_id=self.order.order_id,
            status=OrderStatus.COMPLETED,
            reason=reason,
            payment_id=self.payment_id,
            tracking_id=tracking_id,
        ).dump()

    def compensate(self, status: OrderStatus, reason: str) -> Generator[Any, Any, dict[str, Any]]:
        self.context.set_custom_status(custom_status(Step.COMPENSATING))
        not_undone = yield from self.undo.run(self.context, UNDO_RETRY)
        if not_undone:
            reason = f"{reason}; not compensated: {'; '.join(not_undone)}"
        if self.recorded:
            yield from self.set_status(status, reason)
        self.context.set_custom_status(custom_status(FINAL_STEP.get(status, Step.FAILED)))
        if not self.context.is_replaying:
            logger.warning(
                "Order instance %s ended %s: %s", self.context.instance_id, status, reason
            )
        # A refunded payment id is still reported: callers and support can trace the refund.
        return WorkflowResult(
            order_id=self.order.order_id, status=status, reason=reason, payment_id=self.payment_id
        ).dump()


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def process_order(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Input: a WorkflowInput; output: a WorkflowResult (ids and outcome only). A failed step
    (permanent, or out of retries), a rejection or a `CancelOrder` undoes the completed steps in
    reverse; once shipping has started a cancel is ignored and the order completes."""
    workflow = _Workflow(context, read(WorkflowInput, context.get_input()))
    try:
        result = yield from workflow.forward()
    except Exception as error:  # a step failed permanently or ran out of retries
        result = yield from workflow.compensate(OrderStatus.FAILED, failure_reason(error))
    if result.get("reason") != ALREADY_PROCESSED:  # the earlier run published its outcome
        yield from workflow.report(result)
    return result
