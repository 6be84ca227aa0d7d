"""The order workflow's activities as plain functions: idempotent steps over the order adapters.

Each step reads its input with domain/order_payloads.py, does its one side effect through an
adapter that makes it happen once (insert-if-absent, ETags, one transaction), and returns the
same JSON-safe result however often it runs. Failures are raised, never returned: a
PermanentFailure when retrying cannot help, a TransientFailure when it may. Log lines carry the
order id and correlation id, never personal data or a customer reference's content.
activities/orders.py registers these as Durable activities.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from adapters.errors import storage_errors
from adapters.factory import OrderAdapters
from adapters.telemetry import job_ids
from domain.claims import InvalidClaimRef
from domain.failures import JobFailure, PermanentFailure, TransientFailure
from domain.order_payloads import (
    NotificationKind,
    OrderIdInput,
    PaymentResult,
    RecordOrderInput,
    RefundPaymentInput,
    RefundResult,
    ReleasedResult,
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
from domain.payload import InvalidPayload, read
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
# A no-op until a tracer provider is configured (Application Insights in Azure, devhost locally).
tracer = trace.get_tracer(__name__)

# Orders in these states are over: nothing may be shipped for them.
_NOT_SHIPPABLE = (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED)


def _as_failure(error: Exception) -> JobFailure | None:
    """The failure an activity raises for a known business outcome; None for anything else."""
    match error:
        case OutOfStock():
            return PermanentFailure(f"out of stock: {error.sku}")
        case ReservationReleased():
            return PermanentFailure(str(error))
        case PaymentDeclined():
            return PermanentFailure(f"payment declined: {error.reason}")
        case PaymentUnavailable():
            return TransientFailure(f"payment provider unavailable: {error}")
        case PaymentNotFound():
            return PermanentFailure(f"payment not found: {error}")
        case PaymentAlreadyRefunded():
            return PermanentFailure(f"payment already refunded: {error}")
        case IdempotencyKeyReused():
            return PermanentFailure(f"idempotency key reused: {error}")
        case ShipmentRefused():
            return PermanentFailure(f"shipping failed: {error.reason}")
        case OrderNotFound():
            return PermanentFailure(str(error))
        case InvalidClaimRef():
            return PermanentFailure(f"invalid customer reference: {error}")
    return None


@contextmanager
def _step(activity: str, payload: Any, order_id: str | None = None) -> Iterator[None]:
    """Log start and end with ids only, and turn every known outcome into a labelled failure."""
    ids = payload if isinstance(payload, dict) else {}
    order_id = order_id or ids.get("order_id") or (ids.get("order") or {}).get("order_id")
    correlation_id = ids.get("correlation_id")
    where = f"order {order_id or '?'} [correlation {correlation_id or '-'}]"
    started = time.perf_counter()
    logger.info("%s started for %s", activity, where)
    instance_id = instance_id_for(str(order_id)) if order_id else None
    attributes = {
        "order.id": str(order_id or ""),
        **job_ids("order", instance_id, str(correlation_id or "")),
    }
    try:
        with (
            tracer.start_as_current_span(activity, attributes=attributes),
            storage_errors(activity),
        ):
            yield
    except InvalidPayload as error:
        logger.error("%s refused its input for %s: %s", activity, where, error)
        raise PermanentFailure(f"invalid {activity} input: {error}") from error
    except JobFailure as error:
        logger.warning("%s failed for %s: %s", activity, where, error)
        raise
    except Exception as error:
        failure = _as_failure(error)
        if failure is None:
            logger.exception("%s failed unexpectedly for %s", activity, where)
            raise
        logger.warning("%s failed for %s: %s", activity, where, failure)
        raise failure from error
    logger.info("%s done for %s in %.0f ms", activity, where, (time.perf_counter() - started) * 1e3)


def record_order(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Record the order as Received unless it exists; returns its current status.

    A status that is already terminal tells the workflow that an earlier run finished it.
    """
    with _step("record_order", payload):
        step = read(RecordOrderInput, payload)
        record, _ = adapters.orders.create_if_absent(step.order, step.received_at)
        return StatusResult(status=record.status).dump()


def reserve_stock(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Reserve every line or none; PermanentFailure "out of stock: <SKU>" when short."""
    with _step("reserve_stock", payload):
        step = read(ReserveStockInput, payload)
        adapters.stock.reserve(step.order_id, units_by_sku(step.lines))
        return ReservedResult(reserved=True).dump()


def release_stock(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Give the order's units back; `released` is False if it never held any."""
    with _step("release_stock", payload):
        step = read(OrderIdInput, payload)
        return ReleasedResult(released=adapters.stock.release(step.order_id)).dump()


def take_payment(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Charge once under the key "order-<id>-charge"; a declined card is a PermanentFailure."""
    with _step("take_payment", payload):
        step = read(TakePaymentInput, payload)
        payment_id = adapters.payments.charge(
            charge_key(step.order_id), step.amount_cents, step.currency, step.order_id
        )
        return PaymentResult(payment_id=payment_id).dump()


def refund_payment(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Refund the whole payment once under the key "order-<id>-refund".

    Without a payment id (take_payment's outcome is unknown), the charge the order's charge key
    took is refunded; if it took none, there is nothing to refund and `refund_id` is None.
    """
    with _step("refund_payment", payload):
        step = read(RefundPaymentInput, payload)
        payment_id = step.payment_id or adapters.payments.find_charge(
            charge_key(step.order_id), step.order_id
        )
        if payment_id is None:
            logger.info("refund_payment: order %s was never charged", step.order_id)
            return RefundResult().dump()
        refund_id = adapters.payments.refund(refund_key(step.order_id), payment_id)
        return RefundResult(refund_id=refund_id).dump()


def ship_order(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Book the order's parcel once; the lines come from the order store."""
    with _step("ship_order", payload):
        step = read(OrderIdInput, payload)
        record = adapters.orders.require(step.order_id)
        if record.status in _NOT_SHIPPABLE:
            raise PermanentFailure(f"order {step.order_id} is {record.status}: not shipped")
        skus = [line.sku for line in record.lines]
        return ShipmentResult(tracking_id=adapters.shipping.ship(step.order_id, skus)).dump()


def send_confirmation(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Queue the order confirmation in the outbox, by reference; once per order."""
    with _step("send_confirmation", payload):
        step = read(SendConfirmationInput, payload)
        notice = SendNotificationInput(
            order_id=step.order_id,
            kind=NotificationKind.CONFIRMATION,
            customer_ref=step.customer_ref,
            correlation_id=step.correlation_id,
        )
        return _notify(notice, adapters)


def send_notification(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Queue a notification of the given kind (escalation, rejection, ...); once per kind."""
    with _step("send_notification", payload):
        return _notify(read(SendNotificationInput, payload), adapters)


def set_order_status(payload: Any, adapters: OrderAdapters) -> dict[str, Any]:
    """Set the status (and reason); returns the status the order now has, which stays the
    terminal one if the order had already ended."""
    with _step("set_order_status", payload):
        step = read(SetOrderStatusInput, payload)
        record = adapters.orders.update_status(step.order_id, step.status, step.reason)
        return StatusResult(status=record.status).dump()


def _notify(step: SendNotificationInput, adapters: OrderAdapters) -> dict[str, Any]:
    adapters.outbox.enqueue(step.order_id, str(step.kind), step.customer_ref)
    return SentResult(sent=True).dump()


# Every step by its activity name, for the blueprint and for tests.
STEPS: dict[str, Callable[[Any, OrderAdapters], Any]] = {
    step.__name__: step
    for step in (
        record_order,
        reserve_stock,
        release_stock,
        take_payment,
        refund_payment,
        ship_order,
        send_confirmation,
        send_notification,
        set_order_status,
    )
}
