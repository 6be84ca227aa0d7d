"""What each order activity takes and returns (a bad input is a permanent failure: see `read`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from domain.approvers import Stage
from domain.orders import Currency, CustomerRef, Order, OrderId, OrderStatus
from domain.payload import WHOLE, CorrelationId, Model, NullsWritten, Timestamp
from domain.stock import StockLine

PAYMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
MAX_REASON = 1000


# What a notification in the outbox is about; one of each kind per order at most.
NotificationKind = Literal["confirmation", "escalation", "rejection", "cancellation"]


class OrderIdInput(Model):
    """`release_stock` and `ship_order`: just the order; the base of the other inputs."""

    order_id: OrderId
    correlation_id: CorrelationId | None = None


class RecordOrderInput(Model):
    """`record_order`: the validated order and when it was received (its day partitions it)."""

    order: Order
    received_at: Timestamp
    correlation_id: CorrelationId | None = None


class ReserveStockInput(OrderIdInput):
    """`reserve_stock`: the order's lines (order lines with prices are accepted as they are)."""

    lines: Annotated[tuple[StockLine, ...], Field(min_length=1)]


class TakePaymentInput(OrderIdInput):
    """`take_payment`: the amount to charge, once per order whatever the retries."""

    amount_cents: Annotated[int, Field(ge=0), WHOLE]
    currency: Currency


class RefundPaymentInput(OrderIdInput):
    """`refund_payment`: the payment `take_payment` returned, or None when its outcome is
    unknown (every attempt failed, perhaps after charging): then whatever the order's charge
    key took is refunded, and nothing if it took nothing."""

    payment_id: Annotated[str, Field(pattern=PAYMENT_ID_PATTERN)] | None = None


class SendConfirmationInput(OrderIdInput):
    """`send_confirmation`: the customer's reference, never their data."""

    customer_ref: CustomerRef


class SendNotificationInput(OrderIdInput):
    """`send_notification`: a reference at most, never data."""

    kind: NotificationKind
    customer_ref: CustomerRef | None = None

    @model_validator(mode="after")
    def _confirmation_has_a_customer(self) -> SendNotificationInput:
        if self.kind == "confirmation" and self.customer_ref is None:
            raise ValueError("customer_ref: a confirmation needs the customer's reference")
        return self


class RequestApprovalInput(OrderIdInput):
    """`request_approval`: which round, and when the order's approval ends (its links expire
    then). Never a token or a link: activity inputs and results are kept in the history."""

    stage: Stage
    expires_at: Timestamp


class SetOrderStatusInput(OrderIdInput):
    """`set_order_status`: the new status and why (reasons are ids and causes, never personal)."""

    status: OrderStatus
    reason: Annotated[str, AfterValidator(lambda text: text[:MAX_REASON])] | None = None


# What the activities return: the same value however often they run for the same input.


class StatusResult(Model):
    status: OrderStatus


class ReservedResult(Model):
    reserved: bool


class ReleasedResult(Model):
    released: bool


class PaymentResult(Model):
    payment_id: str


class RefundResult(NullsWritten):
    refund_id: str | None = None  # null: the order's charge key took nothing, nothing refunded


class ShipmentResult(Model):
    tracking_id: str


class SentResult(Model):
    sent: bool


class ApprovalRequestsResult(Model):
    approvers: tuple[str, ...]  # the ids asked (queued now or by an earlier attempt)
