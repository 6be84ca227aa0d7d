"""Stock rules: the units an order needs per SKU, and whether the shelves can cover all of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.orders import MAX_QUANTITY, SKU


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


@dataclass(frozen=True)
class StockLine:
    """Units of one SKU that an order needs; prices do not matter to the warehouse."""

    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if not isinstance(self.sku, str) or not SKU.match(self.sku):
            raise ValueError("sku: 1-32 upper-case letters, digits or '-'")
        quantity = self.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise ValueError(f"quantity: a whole number from 1 to {MAX_QUANTITY}")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValueError(f"quantity: a whole number from 1 to {MAX_QUANTITY}")

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "quantity": self.quantity}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StockLine:
        """Reads `sku` and `quantity`; other keys (an order line's price) are ignored."""
        return cls(data.get("sku"), data.get("quantity"))  # type: ignore[arg-type]


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
