"""The order workflow's activities: idempotent steps over the order adapters."""

from __future__ import annotations

import logging

import app_config
from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import OrderAdapters, root
from domain.claims import InvalidClaimRef
from domain.failures import JobFailure, PermanentFailure, TransientFailure
from domain.order_payloads import (
    ApprovalRequestsResult,
    OrderIdInput,
    PaymentResult,
    RecordOrderInput,
    RefundPaymentInput,
    RefundResult,
    ReleasedResult,
    RequestApprovalInput,
    ReservedResult,
    ReserveStockInput,
    SendConfirmationInput,
    SendNotificationInput,
    SentResult,
    SetOrderStatusInput,
    ShipmentResult,
    StatusResult,
    TakePaymentInput,
)
from domain.order_records import OrderNotFound
from domain.orders import OrderStatus, instance_id_for
from domain.payments import (
    IdempotencyKeyReused,
    PaymentAlreadyRefunded,
    PaymentDeclined,
    PaymentNotFound,
    PaymentUnavailable,
    charge_key,
    refund_key,
)
from domain.shipping import ShipmentRefused
from domain.stock import OutOfStock, ReservationReleased, units_by_sku

logger = logging.getLogger(__name__)

JOB_TYPE = "order"

# Orders in these states are over: nothing may be shipped for them.
_NOT_SHIPPABLE = (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED)


def _ids(step: RecordOrderInput | OrderIdInput) -> JobIds:
    order_id = step.order.order_id if isinstance(step, RecordOrderInput) else step.order_id
    label, attributes = f"order {order_id}", {"order.id": order_id}
    return JobIds(JOB_TYPE, instance_id_for(order_id), step.correlation_id, label, attributes)


# Known business outcomes, the failure each becomes and how its reason starts; payment trouble
# is the one a retry may get past.
_FAILURES: dict[type[Exception], tuple[type[JobFailure], str]] = {
    OutOfStock: (PermanentFailure, ""),
    ReservationReleased: (PermanentFailure, ""),
    PaymentDeclined: (PermanentFailure, "payment declined: "),
    PaymentUnavailable: (TransientFailure, "payment provider unavailable: "),
    PaymentNotFound: (PermanentFailure, "payment not found: "),
    PaymentAlreadyRefunded: (PermanentFailure, "payment already refunded: "),
    IdempotencyKeyReused: (PermanentFailure, "idempotency key reused: "),
    ShipmentRefused: (PermanentFailure, "shipping failed: "),
    OrderNotFound: (PermanentFailure, ""),
    InvalidClaimRef: (PermanentFailure, "invalid customer reference: "),
}


def _as_failure(error: Exception) -> JobFailure | None:
    """The failure an activity raises for a known business outcome; None for anything else."""
    for outcome, (failure, prefix) in _FAILURES.items():
        if isinstance(error, outcome):
            return failure(prefix + str(error))
    return None


bp = ActivityBlueprint(adapters=root.orders, ids=_ids, failures=_as_failure)

RECORD_ORDER = "record_order"


@bp.activity(RECORD_ORDER, RecordOrderInput)
def record_order(step: RecordOrderInput, adapters: OrderAdapters) -> StatusResult:
    """Record the order as Received unless it exists; returns its current status.

    A status that is already terminal tells the workflow that an earlier run finished it.
    """
    record, _ = adapters.orders.create_if_absent(step.order, step.received_at)
    return StatusResult(status=record.status)


RESERVE_STOCK = "reserve_stock"


@bp.activity(RESERVE_STOCK, ReserveStockInput)
def reserve_stock(step: ReserveStockInput, adapters: OrderAdapters) -> ReservedResult:
    """Reserve every line or none; PermanentFailure "out of stock: <SKU>" when short."""
    adapters.stock.reserve(step.order_id, units_by_sku(step.lines))
    return ReservedResult(reserved=True)


RELEASE_STOCK = "release_stock"


@bp.activity(RELEASE_STOCK, OrderIdInput)
def release_stock(step: OrderIdInput, adapters: OrderAdapters) -> ReleasedResult:
    """Give the order's units back; `released` is False if it never held any."""
    return ReleasedResult(released=adapters.stock.release(step.order_id))


TAKE_PAYMENT = "take_payment"


@bp.activity(TAKE_PAYMENT, TakePaymentInput)
def take_payment(step: TakePaymentInput, adapters: OrderAdapters) -> PaymentResult:
    """Charge once under the key "order-<id>-charge"; a declined card is a PermanentFailure."""
    payment_id = adapters.payments.charge(
        charge_key(step.order_id), step.amount_cents, step.currency, step.order_id
    )
    return PaymentResult(payment_id=payment_id)


REFUND_PAYMENT = "refund_payment"


@bp.activity(REFUND_PAYMENT, RefundPaymentInput)
def refund_payment(step: RefundPaymentInput, adapters: OrderAdapters) -> RefundResult:
    """Refund the whole payment once under the key "order-<id>-refund".

    Without a payment id (take_payment's outcome is unknown), the charge the order's charge key
    took is refunded; if it took none, there is nothing to refund and `refund_id` is None.
    """
    payment_id = step.payment_id or adapters.payments.find_charge(
        charge_key(step.order_id), step.order_id
    )
    if payment_id is None:
        logger.info("refund_payment: order %s was never charged", step.order_id)
        return RefundResult()
    return RefundResult(refund_id=adapters.payments.refund(refund_key(step.order_id), payment_id))


SHIP_ORDER = "ship_order"


@bp.activity(SHIP_ORDER, OrderIdInput)
def ship_order(step: OrderIdInput, adapters: OrderAdapters) -> ShipmentResult:
    """Book the order's parcel once; the lines come from the order store."""
    record = adapters.orders.require(step.order_id)
    if record.status in _NOT_SHIPPABLE:
        raise PermanentFailure(f"order {step.order_id} is {record.status}: not shipped")
    skus = [line.sku for line in record.lines]
    return ShipmentResult(tracking_id=adapters.shipping.ship(step.order_id, skus))


SEND_CONFIRMATION = "send_confirmation"


@bp.activity(SEND_CONFIRMATION, SendConfirmationInput)
def send_confirmation(step: SendConfirmationInput, adapters: OrderAdapters) -> SentResult:
    """Queue the order confirmation in the outbox, by reference; once per order."""
    adapters.outbox.enqueue(step.order_id, "confirmation", step.customer_ref)
    return SentResult(sent=True)


SEND_NOTIFICATION = "send_notification"


@bp.activity(SEND_NOTIFICATION, SendNotificationInput)
def send_notification(step: SendNotificationInput, adapters: OrderAdapters) -> SentResult:
    """Queue a notification of the given kind (escalation, rejection, ...); once per kind."""
    adapters.outbox.enqueue(step.order_id, str(step.kind), step.customer_ref)
    return SentResult(sent=True)


REQUEST_APPROVAL = "request_approval"


@bp.activity(REQUEST_APPROVAL, RequestApprovalInput)
def request_approval(step: RequestApprovalInput, adapters: OrderAdapters) -> ApprovalRequestsResult:
    """Queue an approval request for each approver of the round (ORDER_APPROVERS, or
    ORDER_ESCALATION_APPROVERS at escalation); once per approver, round and order."""
    settings = app_config.approval_settings()
    round_ = settings.approvers if step.stage == "approval" else settings.escalation_approvers
    if not round_:
        no_one = "Order %s waits for approval, but no %s approver is configured"
        logger.warning(no_one, step.order_id, step.stage)
    for approver in round_:
        adapters.outbox.enqueue_approval_request(
            step.order_id, approver.id, step.stage, step.expires_at
        )
    return ApprovalRequestsResult(approvers=tuple(a.id for a in round_))


SET_ORDER_STATUS = "set_order_status"


@bp.activity(SET_ORDER_STATUS, SetOrderStatusInput)
def set_order_status(step: SetOrderStatusInput, adapters: OrderAdapters) -> StatusResult:
    """Set the status (and reason); returns the status the order now has, which stays the
    terminal one if the order had already ended."""
    record = adapters.orders.update_status(step.order_id, step.status, step.reason)
    return StatusResult(status=record.status)
