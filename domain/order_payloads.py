"""What each order activity takes and returns (a bad input is a permanent failure: see `read`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from domain.approvers import Stage
from domain.orders import Currency, CustomerRef, Order, OrderId, OrderLine, OrderStatus
from domain.payload import WHOLE, CorrelationId, Model, NullsWritten, Timestamp
from domain.stock import StockLine

PAYMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
PaymentId = Annotated[str, Field(pattern=PAYMENT_ID_PATTERN)]
MAX_REASON = 1000


# What a notification in the outbox is about; one of each kind per order at most.
NotificationKind = Literal["confirmation", "escalation", "rejection", "cancellation"]


class OrderStep(Model):
    """The base of the inputs below: the order. Each input lists its fields in the order the
    recorded histories hold them, because a replay compares activity inputs as text: the step's
    own fields, then the correlation id (for the activities' log lines), then a status reason."""

    order_id: OrderId


# Absent in inputs recorded before correlation ids were passed on.
Correlation = CorrelationId | None


class OrderIdInput(OrderStep):
    """`release_stock` and `ship_order`: just the order."""

    correlation_id: Correlation = None


class RecordOrderInput(Model):
    """`record_order`: the validated order and when it was received (its day partitions it)."""

    order: Order
    received_at: Timestamp
    correlation_id: Correlation = None


class ReserveStockInput(OrderStep):
    """`reserve_stock`: the units to reserve. The workflow sends the order's lines, prices and
    all (the history holds them so), which are kept as they are; bare stock lines do as well."""

    lines: Annotated[tuple[OrderLine | StockLine, ...], Field(min_length=1)]
    correlation_id: Correlation = None


class TakePaymentInput(OrderStep):
    """`take_payment`: the amount to charge, once per order whatever the retries."""

    amount_cents: Annotated[int, Field(ge=0), WHOLE]
    currency: Currency
    correlation_id: Correlation = None


class RefundPaymentInput(OrderStep):
    """`refund_payment`: the payment `take_payment` returned, or None when its outcome is
    unknown (every attempt failed, perhaps after charging): then whatever the order's charge
    key took is refunded, and nothing if it took nothing."""

    payment_id: PaymentId | None = None
    correlation_id: Correlation = None


class SendConfirmationInput(OrderStep):
    """`send_confirmation`: the customer's reference, never their data."""

    customer_ref: CustomerRef
    correlation_id: Correlation = None


class SendNotificationInput(OrderStep):
    """`send_notification`: a reference at most, never data."""

    kind: NotificationKind
    customer_ref: CustomerRef | None = None
    correlation_id: Correlation = None

    @model_validator(mode="after")
    def _confirmation_has_a_customer(self) -> SendNotificationInput:
        if self.kind == "confirmation" and self.customer_ref is None:
            raise ValueError("customer_ref: a confirmation needs the customer's reference")
        return self


class RequestApprovalInput(OrderStep):
    """`request_approval`: which round, and when the order's approval ends (its links expire
    then). Never a token or a link: activity inputs and results are kept in the history."""

    stage: Stage
    expires_at: Timestamp
    correlation_id: Correlation = None


class SetOrderStatusInput(OrderStep):
    """`set_order_status`: the new status and why (reasons are ids and causes, never personal)."""

    status: OrderStatus
    correlation_id: Correlation = None
    reason: Annotated[str, AfterValidator(lambda text: text[:MAX_REASON])] | None = None


# What the activities return: the same value however often they run for the same input.


class StatusResult(Model):
    status: OrderStatus


class ReservedResult(Model):
    reserved: bool


class ReleasedResult(Model):
    released: bool


class PaymentResult(Model):
    payment_id: PaymentId


class RefundResult(NullsWritten):
    refund_id: str | None = None  # null: the order's charge key took nothing, nothing refunded


class ShipmentResult(Model):
    tracking_id: str


class SentResult(Model):
    sent: bool


class ApprovalRequestsResult(Model):
    approvers: tuple[str, ...]  # the ids asked (queued now or by an earlier attempt)
