"""domain.stock: units per SKU, all-or-none coverage, and the stock line payload."""

from __future__ import annotations

import json

import pytest

from domain.payload import InvalidPayload, read
from domain.stock import OutOfStock, StockLine, remaining_after, units_by_sku


def test_units_add_up_per_sku_in_sku_order() -> None:
    lines = [StockLine(sku=sku, quantity=n) for sku, n in (("B", 1), ("A", 2), ("B", 3))]

    assert list(units_by_sku(lines).items()) == [("A", 2), ("B", 4)]


def test_remaining_when_everything_fits() -> None:
    assert remaining_after({"A": 5, "B": 1, "C": 9}, {"A": 5, "B": 1}) == {"A": 0, "B": 0}


def test_the_first_short_sku_is_named() -> None:
    with pytest.raises(OutOfStock) as short:
        remaining_after({"A": 1, "C": 0}, {"C": 1, "A": 2})

    assert short.value.sku == "A"
    assert str(short.value) == "out of stock: A"


def test_an_unknown_sku_has_no_stock() -> None:
    with pytest.raises(OutOfStock):
        remaining_after({}, {"NEW": 1})


def test_a_stock_line_round_trips_and_ignores_prices() -> None:
    line = read(StockLine, {"sku": "SKU-A", "quantity": 2, "unit_price_cents": 99})

    assert line == StockLine(sku="SKU-A", quantity=2)
    assert read(StockLine, json.loads(json.dumps(line.dump()))) == line


@pytest.mark.parametrize(
    "data", [{"sku": "lower", "quantity": 1}, {"sku": "A", "quantity": 0}, {"sku": "A"}]
)
def test_invalid_stock_lines(data: dict[str, object]) -> None:
    with pytest.raises(InvalidPayload):
        read(StockLine, data)
