"""domain.order_records: the day an order belongs to, final statuses, and the record's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.order_records import OrderRecord, next_status, order_day
from domain.orders import OrderLine, OrderStatus
from domain.payload import read


def test_the_day_is_the_utc_day() -> None:
    late_in_new_york = datetime(2026, 3, 1, 21, 0, tzinfo=timezone(timedelta(hours=-5)))

    assert order_day(late_in_new_york) == "2026-03-02"
    assert order_day(datetime(2026, 3, 1, 23, 59)) == "2026-03-01"  # naive means UTC


@pytest.mark.parametrize("current", [s for s in OrderStatus if s.is_terminal])
def test_a_terminal_status_is_final(current: OrderStatus) -> None:
    assert next_status(current, OrderStatus.PAID) is current


def test_other_statuses_move() -> None:
    assert next_status(OrderStatus.PAID, OrderStatus.SHIPPED) is OrderStatus.SHIPPED
    assert next_status(OrderStatus.PAID, OrderStatus.FAILED) is OrderStatus.FAILED


def test_a_record_round_trips_through_json() -> None:
    moment = datetime(2026, 3, 1, 10, tzinfo=UTC)
    record = OrderRecord(
        order_id="o-1",
        order_day="2026-03-01",
        status=OrderStatus.PAID,
        currency="EUR",
        total_cents=3_000_000_000,
        express=True,
        lines=(OrderLine(sku="SKU-A", quantity=2, unit_price_cents=1_500_000_000),),
        customer_ref="claim://orders-private/customers/o-1.json",
        reason="",
        created_at=moment,
        updated_at=moment + timedelta(seconds=5),
    )

    assert read(OrderRecord, json.loads(json.dumps(record.dump()))) == record
