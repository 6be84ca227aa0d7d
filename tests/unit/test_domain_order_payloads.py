"""domain.order_payloads: each activity payload survives JSON, and bad input is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.order_payloads import (
    OrderIdInput,
    RecordOrderInput,
    RefundPaymentInput,
    ReserveStockInput,
    SendConfirmationInput,
    SendNotificationInput,
    SetOrderStatusInput,
    TakePaymentInput,
)
from domain.orders import Order, OrderLine, OrderStatus
from domain.payload import InvalidPayload, read
from domain.stock import StockLine

REF = "claim://orders-private/customers/o-1.json"
LINE = OrderLine(sku="SKU-A", quantity=2, unit_price_cents=500)
ORDER = Order(order_id="o-1", customer_ref=REF, currency="EUR", lines=(LINE,), express=True)
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)

PAYLOADS = [
    RecordOrderInput(order=ORDER, received_at=AT, correlation_id="corr-1"),
    RecordOrderInput(order=ORDER, received_at=AT),
    ReserveStockInput(
        order_id="o-1",
        lines=(StockLine(sku="SKU-A", quantity=2), StockLine(sku="SKU-B", quantity=1)),
        correlation_id="corr-1",
    ),
    OrderIdInput(order_id="o-1"),
    OrderIdInput(order_id="o-1", correlation_id="corr-1"),
    TakePaymentInput(order_id="o-1", amount_cents=1_000, currency="EUR", correlation_id="c"),
    RefundPaymentInput(order_id="o-1", payment_id="pay_o-1_0123456789abcdef"),
    RefundPaymentInput(order_id="o-1", correlation_id="corr-1"),
    SendConfirmationInput(order_id="o-1", customer_ref=REF),
    SendNotificationInput(order_id="o-1", kind="confirmation", customer_ref=REF),
    SendNotificationInput(order_id="o-1", kind="escalation", correlation_id="c"),
    SetOrderStatusInput(order_id="o-1", status=OrderStatus.FAILED, reason="payment declined"),
    SetOrderStatusInput(order_id="o-1", status=OrderStatus.PAID),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_json_round_trip(payload: Any) -> None:
    wire = json.loads(json.dumps(payload.dump()))

    assert read(type(payload), wire) == payload
    assert None not in wire.values()  # unset optional fields are left out, as before


def test_record_order_input_is_written_as_recorded_histories_hold_it() -> None:
    wire = RecordOrderInput(order=ORDER, received_at=AT, correlation_id="corr-1").dump()
    assert json.dumps(wire) == json.dumps(
        {
            "order": {
                "order_id": "o-1",
                "customer_ref": REF,
                "currency": "EUR",
                "lines": [{"sku": "SKU-A", "quantity": 2, "unit_price_cents": 500}],
                "express": True,
            },
            "received_at": "2026-03-01T12:00:00+00:00",
            "correlation_id": "corr-1",
        }
    )


def test_reserve_stock_takes_order_lines_as_they_are() -> None:
    wire = {"order_id": "o-1", "lines": ORDER.dump()["lines"]}

    assert read(ReserveStockInput, wire).lines == (StockLine(sku="SKU-A", quantity=2),)


def test_received_at_may_be_naive_or_zulu() -> None:
    base = {"order": ORDER.dump()}
    naive = read(RecordOrderInput, {**base, "received_at": "2026-03-01T12:00:00"})
    zulu = read(RecordOrderInput, {**base, "received_at": "2026-03-01T12:00:00Z"})

    assert naive.received_at == zulu.received_at == AT


def test_an_input_recorded_by_another_version_still_reads() -> None:
    older = {"order_id": "o-1", "status": "Paid"}  # before correlation ids and reasons
    newer = {**older, "correlation_id": "c", "priority": 1}  # with a field added later
    assert read(SetOrderStatusInput, older).correlation_id is None
    assert read(SetOrderStatusInput, newer).status is OrderStatus.PAID


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        (RecordOrderInput, {"order": ORDER.dump(), "received_at": "yesterday"}, "received_at"),
        (
            RecordOrderInput,
            {"order": {**ORDER.dump(), "customer_ref": "a@b.c"}, "received_at": "2026-03-01"},
            "order.customer_ref",
        ),
        (ReserveStockInput, {"order_id": "o-1", "lines": [{"sku": "A", "quantity": 0}]}, "lines"),
        (OrderIdInput, {"order_id": "../x"}, "order_id"),
        (OrderIdInput, {"order_id": "o-1", "correlation_id": "x" * 500}, "correlation_id"),
        (TakePaymentInput, {"order_id": "o-1", "amount_cents": 1.5, "currency": "EUR"}, "amount"),
        (TakePaymentInput, {"order_id": "o-1", "amount_cents": 1, "currency": "XXX"}, "currency"),
        (RefundPaymentInput, {"order_id": "o-1", "payment_id": ""}, "payment_id"),
        (SendNotificationInput, {"order_id": "o-1", "kind": "spam"}, "kind"),
        (SendNotificationInput, {"order_id": "o-1", "kind": "confirmation"}, "customer_ref"),
        (SendConfirmationInput, {"order_id": "o-1"}, "customer_ref"),
        (SetOrderStatusInput, {"order_id": "o-1", "status": "Done"}, "status"),
        (SetOrderStatusInput, {"order_id": "o-1", "status": "Paid", "reason": 7}, "reason"),
        (OrderIdInput, ["o-1"], "Input should be"),
    ],
)
def test_invalid_input_is_refused_naming_the_field(kind: Any, data: Any, field: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        read(kind, data)
    assert raised.value.problems[0].startswith(field)


def test_long_reasons_are_cut() -> None:
    parsed = read(SetOrderStatusInput, {"order_id": "o", "status": "Failed", "reason": "x" * 5000})

    assert parsed.reason is not None and len(parsed.reason) == 1000
