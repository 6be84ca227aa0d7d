"""domain.orders: what a valid order is, its total, approval and its instance id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.orders import (
    MAX_LINES,
    InvalidOrder,
    Order,
    OrderLine,
    OrderStatus,
    instance_id_for,
    needs_approval,
    parse_order,
)


def body(**changes: Any) -> dict[str, Any]:
    order = {
        "order_id": "o-1",
        "currency": "EUR",
        "lines": [
            {"sku": "SKU-A", "quantity": 2, "unit_price_cents": 1_250},
            {"sku": "SKU-B", "quantity": 1, "unit_price_cents": 500},
        ],
    }
    return {**order, **changes}


def test_a_valid_order_is_parsed_with_its_total() -> None:
    order = parse_order(body(express=True), "claim://c/x")

    assert order == Order(
        "o-1",
        "claim://c/x",
        "EUR",
        (OrderLine("SKU-A", 2, 1_250), OrderLine("SKU-B", 1, 500)),
        express=True,
    )
    assert order.total_cents == 3_000


def test_an_order_round_trips_through_json() -> None:
    order = parse_order(body(), "claim://c/x")

    assert Order.from_dict(json.loads(json.dumps(order.to_dict()))) == order


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"order_id": "-bad"}, "order_id"),
        ({"order_id": "x" * 65}, "order_id"),
        ({"order_id": "a/b"}, "order_id"),
        ({"currency": "JPY"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "SKU-A"}] * (MAX_LINES + 1)}, "lines"),
        ({"lines": ["SKU-A"]}, "lines[0]"),
        ({"lines": [{"sku": "lower", "quantity": 1, "unit_price_cents": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price_cents": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": True, "unit_price_cents": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price_cents": -1}]}, "lines[0].unit_price"),
        ({"express": "yes"}, "express"),
    ],
)
def test_invalid_orders_name_the_field(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidOrder) as invalid:
        parse_order(body(**changes), "ref")

    assert any(p.startswith(problem) for p in invalid.value.problems)


def test_every_problem_is_listed_and_a_sku_appears_once() -> None:
    line = {"sku": "SKU-A", "quantity": 1, "unit_price_cents": 1}
    with pytest.raises(InvalidOrder) as invalid:
        parse_order({"currency": "XXX", "lines": [line, line]}, "ref")

    fields = [p.split(":")[0] for p in invalid.value.problems]
    assert fields == ["order_id", "currency", "lines"]


def test_not_an_object() -> None:
    with pytest.raises(InvalidOrder):
        parse_order(["o-1"], "ref")


def test_approval_is_needed_at_or_above_the_threshold() -> None:
    order = parse_order(body(), "ref")  # 3,000 cents

    assert needs_approval(order, 3_000)
    assert not needs_approval(order, 3_001)


def test_terminal_statuses() -> None:
    terminal = {s for s in OrderStatus if s.is_terminal}

    assert terminal == {"Completed", "Rejected", "Cancelled", "Failed"}


def test_one_order_one_instance() -> None:
    assert instance_id_for("o-1") == "order-o-1"
