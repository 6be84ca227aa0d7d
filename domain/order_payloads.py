"""What each order activity takes and returns: JSON-safe dicts, checked on the way in.

Orchestrators build inputs with `to_dict()`; activities read them with `from_dict()`, which
raises InvalidPayload (a permanent failure: the same bad input fails every time). Every input
may carry a `correlation_id`, which the activity writes into its log lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from domain.order_records import parse_timestamp, utc
from domain.orders import CURRENCIES, ORDER_ID, InvalidOrder, Order, OrderStatus, parse_order
from domain.stock import StockLine

# A claim-check reference or a producer's own reference: no spaces, no '@' (never an email).
CUSTOMER_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}$")
PAYMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
MAX_REASON = 1000
MAX_CORRELATION_ID = 128


class InvalidPayload(ValueError):
    """An activity input that can never work; the message names fields, never their values."""


class NotificationKind(StrEnum):
    """What a notification in the outbox is about; one of each kind per order at most."""

    CONFIRMATION = "confirmation"
    ESCALATION = "escalation"
    REJECTION = "rejection"
    CANCELLATION = "cancellation"


def _order_id(data: Mapping[str, Any]) -> str:
    value = data.get("order_id")
    if not isinstance(value, str) or not ORDER_ID.match(value):
        raise InvalidPayload("order_id: a valid order id")
    return value


def _correlation(data: Mapping[str, Any]) -> str | None:
    value = data.get("correlation_id")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CORRELATION_ID:
        raise InvalidPayload(f"correlation_id: text of at most {MAX_CORRELATION_ID} characters")
    return value


def _mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidPayload("the input must be a JSON object")
    return data


def _with_correlation(body: dict[str, Any], correlation_id: str | None) -> dict[str, Any]:
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    return body


@dataclass(frozen=True)
class RecordOrderInput:
    """`record_order`: the validated order and when it was received (its day partitions it)."""

    order: Order
    received_at: datetime
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body = {"order": self.order.to_dict(), "received_at": self.received_at.isoformat()}
        return _with_correlation(body, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any) -> RecordOrderInput:
        data = _mapping(data)
        raw = data.get("order")
        if not isinstance(raw, Mapping):
            raise InvalidPayload("order: an order object")
        customer_ref = raw.get("customer_ref")
        if not isinstance(customer_ref, str) or not CUSTOMER_REF.match(customer_ref):
            raise InvalidPayload("order.customer_ref: a claim-check reference")
        try:
            order = parse_order(dict(raw), customer_ref)
        except InvalidOrder as invalid:
            raise InvalidPayload(f"order: {invalid}") from invalid
        try:
            received_at = parse_timestamp(data.get("received_at"))  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            raise InvalidPayload("received_at: an ISO 8601 timestamp") from error
        return cls(order, utc(received_at), _correlation(data))


@dataclass(frozen=True)
class ReserveStockInput:
    """`reserve_stock`: the order's lines (order lines with prices are accepted as they are)."""

    order_id: str
    lines: tuple[StockLine, ...]
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body = {"order_id": self.order_id, "lines": [line.to_dict() for line in self.lines]}
        return _with_correlation(body, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any) -> ReserveStockInput:
        data = _mapping(data)
        raw = data.get("lines")
        if not isinstance(raw, list) or not raw:
            raise InvalidPayload("lines: a non-empty list of {sku, quantity}")
        lines = []
        for index, line in enumerate(raw):
            try:
                lines.append(StockLine.from_dict(_mapping(line)))
            except (InvalidPayload, ValueError) as error:
                raise InvalidPayload(f"lines[{index}]: {error}") from error
        return cls(_order_id(data), tuple(lines), _correlation(data))


@dataclass(frozen=True)
class OrderIdInput:
    """`release_stock` and `ship_order`: just the order."""

    order_id: str
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _with_correlation({"order_id": self.order_id}, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any) -> OrderIdInput:
        data = _mapping(data)
        return cls(_order_id(data), _correlation(data))


@dataclass(frozen=True)
class TakePaymentInput:
    """`take_payment`: the amount to charge, once per order whatever the retries."""

    order_id: str
    amount_cents: int
    currency: str
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body = {
            "order_id": self.order_id,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
        }
        return _with_correlation(body, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any) -> TakePaymentInput:
        data = _mapping(data)
        amount = data.get("amount_cents")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidPayload("amount_cents: a whole number of cents, 0 or more")
        currency = data.get("currency")
        if currency not in CURRENCIES:
            raise InvalidPayload(f"currency: one of {', '.join(sorted(CURRENCIES))}")
        return cls(_order_id(data), amount, currency, _correlation(data))


@dataclass(frozen=True)
class RefundPaymentInput:
    """`refund_payment`: the payment `take_payment` returned, or None when its outcome is
    unknown (every attempt failed, perhaps after charging): then whatever the order's charge
    key took is refunded, and nothing if it took nothing."""

    order_id: str
    payment_id: str | None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"order_id": self.order_id}
        if self.payment_id is not None:
            body["payment_id"] = self.payment_id
        return _with_correlation(body, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any) -> RefundPaymentInput:
        data = _mapping(data)
        payment_id = data.get("payment_id")
        if payment_id is not None and (
            not isinstance(payment_id, str) or not PAYMENT_ID.match(payment_id)
        ):
            raise InvalidPayload("payment_id: a payment id from take_payment, or absent")
        return cls(_order_id(data), payment_id, _correlation(data))


@dataclass(frozen=True)
class SendNotificationInput:
    """`send_confirmation` (kind confirmation) and `send_notification`: a reference, no data."""

    order_id: str
    kind: NotificationKind
    customer_ref: str | None = None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"order_id": self.order_id, "kind": str(self.kind)}
        if self.customer_ref is not None:
            body["customer_ref"] = self.customer_ref
        return _with_correlation(body, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any, *, kind: NotificationKind | None = None) -> SendNotificationInput:
        """`kind` fixes the kind (send_confirmation); otherwise the input names it."""
        data = _mapping(data)
        try:
            kind = kind or NotificationKind(data.get("kind"))
        except ValueError as error:
            kinds = ", ".join(k.value for k in NotificationKind)
            raise InvalidPayload(f"kind: one of {kinds}") from error
        ref = data.get("customer_ref")
        if ref is not None and (not isinstance(ref, str) or not CUSTOMER_REF.match(ref)):
            raise InvalidPayload("customer_ref: a claim-check reference")
        if ref is None and kind is NotificationKind.CONFIRMATION:
            raise InvalidPayload("customer_ref: a confirmation needs the customer's reference")
        return cls(_order_id(data), kind, ref, _correlation(data))


@dataclass(frozen=True)
class SetOrderStatusInput:
    """`set_order_status`: the new status and why (reasons are ids and causes, never personal)."""

    order_id: str
    status: OrderStatus
    reason: str | None = None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"order_id": self.order_id, "status": str(self.status)}
        if self.reason is not None:
            body["reason"] = self.reason
        return _with_correlation(body, self.correlation_id)

    @classmethod
    def from_dict(cls, data: Any) -> SetOrderStatusInput:
        data = _mapping(data)
        try:
            status = OrderStatus(data.get("status"))
        except ValueError as error:
            raise InvalidPayload("status: an OrderStatus value") from error
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise InvalidPayload("reason: text")
        reason = reason[:MAX_REASON] if reason is not None else None
        return cls(_order_id(data), status, reason, _correlation(data))


# What the activities return: the same value however often they run for the same input.


class StatusResult(TypedDict):
    status: str


class ReservedResult(TypedDict):
    reserved: bool


class ReleasedResult(TypedDict):
    released: bool


class PaymentResult(TypedDict):
    payment_id: str


class RefundResult(TypedDict):
    refund_id: str | None  # None: the order's charge key took nothing, so nothing was refunded


class ShipmentResult(TypedDict):
    tracking_id: str


class SentResult(TypedDict):
    sent: bool
