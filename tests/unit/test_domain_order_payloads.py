"""domain.order_payloads: each activity payload survives JSON, and bad input is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dateutil.parser
import pytest

from domain.order_payloads import (
    OrderIdInput,
    RecordOrderInput,
    RefundPaymentInput,
    RequestApprovalInput,
    ReserveStockInput,
    SendConfirmationInput,
    SendNotificationInput,
    SetOrderStatusInput,
    TakePaymentInput,
)
from domain.orders import Order, OrderLine, OrderStatus
from domain.payload import InvalidPayload, read
from domain.stock import StockLine, units_by_sku

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
    """The workflow sends the order's lines with their prices; bare stock lines read too."""
    wire = {"order_id": "o-1", "lines": ORDER.dump()["lines"]}
    priced = read(ReserveStockInput, wire)
    bare = read(ReserveStockInput, {"order_id": "o-1", "lines": [{"sku": "SKU-A", "quantity": 2}]})

    assert priced.lines == (LINE,) and priced.dump() == wire
    assert bare.lines == (StockLine(sku="SKU-A", quantity=2),)
    assert units_by_sku(priced.lines) == units_by_sku(bare.lines) == {"SKU-A": 2}


# Each input as the order workflow built it by hand before it built models, copied from the
# recorded histories (tests/histories/process_order): replay compares inputs as text.
HAPPY_ORDER = Order(
    order_id="hist-happy",
    customer_ref="ref-123",
    currency="EUR",
    lines=(OrderLine(sku="SKU-1", quantity=1, unit_price_cents=2500),),
)
RECORDED_AT = "2026-11-22T00:00:00+00:00"
# What the SDK gives as current_utc_datetime: the history's timestamp, parsed by dateutil.
STARTED = dateutil.parser.parse("2026-11-22T03:05:00.851747Z")
AS_RECORDED = [
    (
        RecordOrderInput(
            order=HAPPY_ORDER,
            received_at=datetime.fromisoformat(RECORDED_AT),
            correlation_id="corr-1",
        ),
        '{"order": {"order_id": "hist-happy", "customer_ref": "ref-123", "currency": "EUR", '
        '"lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 2500}], "express": false}, '
        '"received_at": "2026-11-22T00:00:00+00:00", "correlation_id": "corr-1"}',
    ),
    (
        ReserveStockInput(order_id="hist-happy", lines=HAPPY_ORDER.lines, correlation_id="corr-1"),
        '{"order_id": "hist-happy", "lines": [{"sku": "SKU-1", "quantity": 1, '
        '"unit_price_cents": 2500}], "correlation_id": "corr-1"}',
    ),
    (
        TakePaymentInput(
            order_id="hist-happy", amount_cents=2500, currency="EUR", correlation_id="corr-1"
        ),
        '{"order_id": "hist-happy", "amount_cents": 2500, "currency": "EUR", '
        '"correlation_id": "corr-1"}',
    ),
    (
        OrderIdInput(order_id="hist-happy", correlation_id="corr-1"),
        '{"order_id": "hist-happy", "correlation_id": "corr-1"}',
    ),
    (
        RefundPaymentInput(order_id="hist-x", payment_id="pay-hist-x", correlation_id="corr-1"),
        '{"order_id": "hist-x", "payment_id": "pay-hist-x", "correlation_id": "corr-1"}',
    ),
    (
        RefundPaymentInput(order_id="hist-x", correlation_id="corr-1"),
        '{"order_id": "hist-x", "correlation_id": "corr-1"}',
    ),
    (
        SendConfirmationInput(
            order_id="hist-happy", customer_ref="ref-123", correlation_id="corr-1"
        ),
        '{"order_id": "hist-happy", "customer_ref": "ref-123", "correlation_id": "corr-1"}',
    ),
    (
        SendNotificationInput(order_id="hist-x", kind="escalation", correlation_id="corr-1"),
        '{"order_id": "hist-x", "kind": "escalation", "correlation_id": "corr-1"}',
    ),
    (
        SetOrderStatusInput(
            order_id="hist-happy", status=OrderStatus.COMPLETED, correlation_id="corr-1"
        ),
        '{"order_id": "hist-happy", "status": "Completed", "correlation_id": "corr-1"}',
    ),
    (
        SetOrderStatusInput(
            order_id="hist-x",
            status=OrderStatus.AWAITING_APPROVAL,
            correlation_id="corr-1",
            reason="approval escalated",
        ),
        '{"order_id": "hist-x", "status": "AwaitingApproval", "correlation_id": "corr-1", '
        '"reason": "approval escalated"}',
    ),
    (  # version 2 (no recorded history yet): `expires_at=deadline.isoformat()` by hand
        RequestApprovalInput(
            order_id="hist-x",
            stage="approval",
            expires_at=STARTED + timedelta(seconds=259200.0),
            correlation_id="corr-1",
        ),
        '{"order_id": "hist-x", "stage": "approval", '
        '"expires_at": "2026-11-25T03:05:00.851747+00:00", "correlation_id": "corr-1"}',
    ),
    (  # no correlation id: the member was left out, never null
        SetOrderStatusInput(order_id="o-1", status=OrderStatus.FAILED, reason="declined"),
        '{"order_id": "o-1", "status": "Failed", "reason": "declined"}',
    ),
]


@pytest.mark.parametrize(
    ("payload", "recorded"), AS_RECORDED, ids=[type(p).__name__ for p, _ in AS_RECORDED]
)
def test_each_input_is_written_as_recorded_histories_hold_it(payload: Any, recorded: str) -> None:
    assert json.dumps(payload.dump()) == recorded  # the SDK's json.dumps: text, member order


def test_the_received_at_a_starter_writes_is_the_text_record_order_gets() -> None:
    """The workflow parses WorkflowInput.received_at and the input writes it back."""
    for moment in (datetime.now(UTC), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), AT):
        text = moment.isoformat()
        again = RecordOrderInput(order=ORDER, received_at=datetime.fromisoformat(text))
        assert again.dump()["received_at"] == text


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
