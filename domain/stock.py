"""Stock rules: the units an order needs per SKU, and whether the shelves can cover all of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import Field

from domain.orders import MAX_QUANTITY, SKU_PATTERN
from domain.payload import WHOLE, Model


class OutOfStock(Exception):
    """Not enough units of `sku` (an unknown SKU has none); the whole order is refused."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"out of stock: {sku}")
        self.sku = sku


class ReservationReleased(Exception):
    """The order's reservation was released (or compensated before it existed): never again."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"stock reservation of order {order_id} was already released")
        self.order_id = order_id


class StockLine(Model):
    """Units of one SKU that an order needs; prices do not matter to the warehouse (an order
    line's price, when given, is ignored)."""

    sku: Annotated[str, Field(pattern=SKU_PATTERN)]
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY), WHOLE]


def units_by_sku(lines: Iterable[StockLine]) -> dict[str, int]:
    """Units per SKU, in SKU order (the same SKU on two lines adds up)."""
    units: dict[str, int] = {}
    for line in lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    return dict(sorted(units.items()))


def remaining_after(available: Mapping[str, int], wanted: Mapping[str, int]) -> dict[str, int]:
    """What is left of each wanted SKU once all are taken; OutOfStock names the first short one."""
    remaining = {}
    for sku in sorted(wanted):
        left = available.get(sku, 0) - wanted[sku]
        if left < 0:
            raise OutOfStock(sku)
        remaining[sku] = left
    return remaining
