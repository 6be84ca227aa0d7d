"""domain.orders: what a valid order is, its total, approval and its instance id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.orders import (
    MAX_LINES,
    Order,
    OrderLine,
    OrderStatus,
    instance_id_for,
    needs_approval,
)
from domain.payload import InvalidPayload, parse_request, read


def body(**changes: Any) -> dict[str, Any]:
    order = {
        "order_id": "o-1",
        "customer_ref": "claim://c/x",
        "currency": "EUR",
        "lines": [
            {"sku": "SKU-A", "quantity": 2, "unit_price_cents": 1_250},
            {"sku": "SKU-B", "quantity": 1, "unit_price_cents": 500},
        ],
    }
    return {**order, **changes}


def parse(data: dict[str, Any]) -> Order:
    return parse_request(Order, json.dumps(data))


def test_a_valid_order_is_parsed_with_its_total() -> None:
    order = parse(body(express=True))

    assert order == Order(
        order_id="o-1",
        customer_ref="claim://c/x",
        currency="EUR",
        lines=(
            OrderLine(sku="SKU-A", quantity=2, unit_price_cents=1_250),
            OrderLine(sku="SKU-B", quantity=1, unit_price_cents=500),
        ),
        express=True,
    )
    assert order.total_cents == 3_000


def test_an_order_round_trips_through_json_in_the_recorded_field_order() -> None:
    order = parse(body())
    dumped = order.dump()

    assert list(dumped) == ["order_id", "customer_ref", "currency", "lines", "express"]
    assert read(Order, json.loads(json.dumps(dumped))) == order


def test_an_order_recorded_by_an_older_version_still_reads() -> None:
    older = body()  # no "express": it came later, and defaults to False
    newer = {**body(), "priority": "high"}  # a field a later version may add

    assert read(Order, older).express is False
    assert read(Order, newer) == read(Order, older)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"order_id": "-bad"}, "order_id"),
        ({"order_id": "x" * 65}, "order_id"),
        ({"order_id": "a/b"}, "order_id"),
        ({"currency": "JPY"}, "currency"),
        ({"currency": {}}, "currency"),
        ({"currency": ["EUR"]}, "currency"),
        ({"lines": []}, "lines"),
        (
            {"lines": [{"sku": "SKU-A", "quantity": 1, "unit_price_cents": 1}] * (MAX_LINES + 1)},
            "lines",
        ),
        ({"lines": ["SKU-A"]}, "lines[0]"),
        ({"lines": [{"sku": "lower", "quantity": 1, "unit_price_cents": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price_cents": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": True, "unit_price_cents": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price_cents": -1}]}, "lines[0].unit_price"),
        ({"express": "yes"}, "express"),
        ({"note": "unknown members are refused"}, "note"),
    ],
)
def test_invalid_orders_name_the_field(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidPayload) as invalid:
        parse(body(**changes))

    assert any(p.startswith(problem) for p in invalid.value.problems)


def test_every_problem_is_listed_and_a_sku_appears_once() -> None:
    line = {"sku": "SKU-A", "quantity": 1, "unit_price_cents": 1}
    data = body(currency="XXX", lines=[line, line])
    del data["order_id"]
    with pytest.raises(InvalidPayload) as invalid:
        parse(data)

    assert invalid.value.problems == [
        "order_id: Field required",
        "currency: Input should be 'EUR', 'GBP' or 'USD'",
        "lines: each sku at most once",
    ]


def test_not_an_object() -> None:
    with pytest.raises(InvalidPayload) as invalid:
        parse_request(Order, '["o-1"]')
    assert invalid.value.problems == ["Input should be an object"]


def test_approval_is_needed_at_or_above_the_threshold() -> None:
    order = parse(body())  # 3,000 cents

    assert needs_approval(order, 3_000)
    assert not needs_approval(order, 3_001)


def test_terminal_statuses() -> None:
    terminal = {s for s in OrderStatus if s.is_terminal}

    assert terminal == {"Completed", "Rejected", "Cancelled", "Failed"}


def test_one_order_one_instance() -> None:
    assert instance_id_for("o-1") == "order-o-1"
