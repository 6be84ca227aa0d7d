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
from domain.failures import FailureKind, failure_kind, failure_reason
from domain.fulfilment import (
    MILESTONES,
    Step,
    WorkflowInput,
    WorkflowResult,
    cancel_reason,
    custom_status,
)
from domain.orders import Order, OrderStatus, needs_approval
from domain.payload import read
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
        self.undo = Compensations()
        self.recorded = False
        self.payment_id: str | None = None
        # Raced with every step before shipping and with the approval wait, read between steps.
        self.cancel = CancelWatch(context)
        self.cancellable = True
        self.reporter = JobReporter(
            context, JOB_TYPE, run.correlation_id, run.routing, enqueued_at=run.received_at
        )

    def payload(self, **fields: Any) -> dict[str, Any]:
        """An activity input; the correlation id rides along for the activity's log lines."""
        if self.run.correlation_id is not None:
            fields["correlation_id"] = self.run.correlation_id
        return fields

    def step(self, step: Step, activity: str, payload: dict[str, Any]) -> Generator[Any, Any, Any]:
        self.context.set_custom_status(custom_status(step))
        return (
            yield from call_activity_with_backoff(
                self.context,
                activity,
                payload,
                STEP_RETRY,
                watch=self.cancel.wait if self.cancellable else None,
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
        payload = self.payload(order_id=self.order.order_id, status=str(status))
        if reason is not None:
            payload["reason"] = reason
        yield from call_activity_with_backoff(self.context, SET_ORDER_STATUS, payload, UNDO_RETRY)

    def forward(self) -> Generator[Any, Any, dict[str, Any]]:
        order, order_id = self.order, self.order.order_id
        recorded = yield from self.step(
            Step.RECORDING,
            RECORD_ORDER,
            self.payload(order=order.dump(), received_at=self.run.received_at),
        )
        self.recorded = True
        status = OrderStatus(recorded["status"])
        if status.is_terminal:
            # An earlier run finished this order and its history was purged: do nothing again.
            self.context.set_custom_status(custom_status(FINAL_STEP.get(status, Step.FAILED)))
            return WorkflowResult(order_id=order_id, status=status, reason=ALREADY_PROCESSED).dump()
        yield from self.milestone(OrderStatus.RECEIVED)

        if self.cancelled:
            return (yield from self.cancelled_run())
        reserve = self.payload(order_id=order_id, lines=order.dump()["lines"])
        yield from self.step(Step.RESERVING_STOCK, RESERVE_STOCK, reserve)
        self.undo.add(RELEASE_STOCK, self.payload(order_id=order_id))
        if self.cancelled:
            return (yield from self.cancelled_run())

        try:
            paid = yield from self.step(
                Step.TAKING_PAYMENT,
                TAKE_PAYMENT,
                self.payload(
                    order_id=order_id, amount_cents=order.total_cents, currency=order.currency
                ),
            )
        except Exception as error:
            if failure_kind(error) is not FailureKind.PERMANENT:
                # Out of retries: the last attempt may have charged before it failed. Refund
                # whatever the order's charge key took (nothing, if it took nothing).
                self.undo.add(REFUND_PAYMENT, self.payload(order_id=order_id))
            raise
        self.payment_id = paid["payment_id"]
        self.undo.add(REFUND_PAYMENT, self.payload(order_id=order_id, payment_id=self.payment_id))
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
        shipped = yield from self.step(Step.SHIPPING, SHIP_ORDER, self.payload(order_id=order_id))
        # Nothing is compensated any more either.
        self.undo.steps.clear()
        yield from self.milestone(OrderStatus.SHIPPED)
        return (yield from self.confirm(shipped["tracking_id"]))

    def ask_approvers(self, deadline: datetime) -> Generator[Any, Any, None]:
        """Queue a request for each approver; their links expire at the final deadline."""
        yield from self.request_approval("approval", deadline)

    def request_approval(self, stage: str, deadline: datetime) -> Generator[Any, Any, None]:
        request = self.payload(
            order_id=self.order.order_id, stage=stage, expires_at=deadline.isoformat()
        )
        yield from call_activity_with_backoff(self.context, REQUEST_APPROVAL, request, UNDO_RETRY)

    def escalate(self, deadline: datetime) -> Generator[Any, Any, None]:
        """Ask the escalation approvers (before version 2: a bare escalation notice), and
        record the escalation on the order."""
        self.context.set_custom_status(custom_status(Step.APPROVAL_ESCALATED))
        if self.run.version >= 2:
            yield from self.request_approval("escalation", deadline)
        else:
            notice = self.payload(order_id=self.order.order_id, kind="escalation")
            yield from call_activity_with_backoff(
                self.context, SEND_NOTIFICATION, notice, UNDO_RETRY
            )
        yield from self.set_status(OrderStatus.AWAITING_APPROVAL, "approval escalated")

    def confirm(self, tracking_id: str) -> Generator[Any, Any, dict[str, Any]]:
        reason = None
        try:
            yield from self.step(
                Step.CONFIRMING,
                SEND_CONFIRMATION,
                self.payload(order_id=self.order.order_id, customer_ref=self.order.customer_ref),
            )
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
