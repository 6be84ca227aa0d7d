"""domain.order_payloads: each activity payload survives JSON, and bad input is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.order_payloads import (
    InvalidPayload,
    NotificationKind,
    OrderIdInput,
    RecordOrderInput,
    RefundPaymentInput,
    ReserveStockInput,
    SendNotificationInput,
    SetOrderStatusInput,
    TakePaymentInput,
)
from domain.orders import Order, OrderLine, OrderStatus
from domain.stock import StockLine

REF = "claim://orders-private/customers/o-1.json"
ORDER = Order("o-1", REF, "EUR", (OrderLine("SKU-A", 2, 500),), express=True)

PAYLOADS = [
    RecordOrderInput(ORDER, datetime(2026, 3, 1, 12, tzinfo=UTC), "corr-1"),
    RecordOrderInput(ORDER, datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ReserveStockInput("o-1", (StockLine("SKU-A", 2), StockLine("SKU-B", 1)), "corr-1"),
    OrderIdInput("o-1"),
    OrderIdInput("o-1", "corr-1"),
    TakePaymentInput("o-1", 1_000, "EUR", "corr-1"),
    RefundPaymentInput("o-1", "pay_o-1_0123456789abcdef"),
    RefundPaymentInput("o-1", None, "corr-1"),
    SendNotificationInput("o-1", NotificationKind.CONFIRMATION, REF),
    SendNotificationInput("o-1", NotificationKind.ESCALATION, None, "corr-1"),
    SetOrderStatusInput("o-1", OrderStatus.FAILED, "payment declined: card declined"),
    SetOrderStatusInput("o-1", OrderStatus.PAID),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_json_round_trip(payload: Any) -> None:
    wire = json.loads(json.dumps(payload.to_dict()))

    assert type(payload).from_dict(wire) == payload


def test_reserve_stock_takes_order_lines_as_they_are() -> None:
    wire = {"order_id": "o-1", "lines": ORDER.to_dict()["lines"]}

    assert ReserveStockInput.from_dict(wire).lines == (StockLine("SKU-A", 2),)


def test_received_at_may_be_naive_or_zulu() -> None:
    base = {"order": ORDER.to_dict()}
    naive = RecordOrderInput.from_dict({**base, "received_at": "2026-03-01T12:00:00"})
    zulu = RecordOrderInput.from_dict({**base, "received_at": "2026-03-01T12:00:00Z"})

    assert naive.received_at == zulu.received_at == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_send_confirmation_fixes_the_kind() -> None:
    parsed = SendNotificationInput.from_dict(
        {"order_id": "o-1", "customer_ref": REF}, kind=NotificationKind.CONFIRMATION
    )

    assert parsed.kind is NotificationKind.CONFIRMATION


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (RecordOrderInput, {"order": ORDER.to_dict(), "received_at": "yesterday"}),
        (RecordOrderInput, {"order": {**ORDER.to_dict(), "customer_ref": "a@b.c"}}),
        (RecordOrderInput, {"order": {**ORDER.to_dict(), "currency": "XXX"}, "received_at": ""}),
        (ReserveStockInput, {"order_id": "o-1", "lines": [{"sku": "A", "quantity": 0}]}),
        (OrderIdInput, {"order_id": "../x"}),
        (OrderIdInput, {"order_id": "o-1", "correlation_id": "x" * 500}),
        (TakePaymentInput, {"order_id": "o-1", "amount_cents": 1.5, "currency": "EUR"}),
        (TakePaymentInput, {"order_id": "o-1", "amount_cents": True, "currency": "EUR"}),
        (TakePaymentInput, {"order_id": "o-1", "amount_cents": 1, "currency": "XXX"}),
        (RefundPaymentInput, {"order_id": "o-1", "payment_id": ""}),
        (SendNotificationInput, {"order_id": "o-1", "kind": "spam"}),
        (SendNotificationInput, {"order_id": "o-1", "kind": "confirmation"}),
        (SetOrderStatusInput, {"order_id": "o-1", "status": "Done"}),
        (SetOrderStatusInput, {"order_id": "o-1", "status": "Paid", "reason": 7}),
        (OrderIdInput, ["o-1"]),
    ],
)
def test_invalid_input_is_refused(kind: Any, data: Any) -> None:
    with pytest.raises(InvalidPayload):
        kind.from_dict(data)


def test_long_reasons_are_cut() -> None:
    parsed = SetOrderStatusInput.from_dict(
        {"order_id": "o", "status": "Failed", "reason": "x" * 5000}
    )

    assert parsed.reason is not None and len(parsed.reason) == 1000
