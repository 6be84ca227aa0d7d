"""Order rules: what a valid order is, what it costs, and when it needs a human's approval."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SKU = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
CURRENCIES = frozenset({"EUR", "USD", "GBP"})
MAX_LINES = 50
MAX_QUANTITY = 1000
# A hundred million in the currency's main unit: every total (at most 50 lines of 1,000 units)
# stays below 2**53, an integer every JSON reader, Table storage's Int64 and payments hold.
MAX_UNIT_PRICE_CENTS = 10_000_000_000


class OrderStatus(StrEnum):
    """Where an order is in its workflow; the terminal ones end it."""

    RECEIVED = "Received"
    STOCK_RESERVED = "StockReserved"
    PAID = "Paid"
    AWAITING_APPROVAL = "AwaitingApproval"
    SHIPPED = "Shipped"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    CANCELLED = "Cancelled"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        return self in (self.COMPLETED, self.REJECTED, self.CANCELLED, self.FAILED)


class InvalidOrder(ValueError):
    """An order that can never be processed; `problems` says why, one entry per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class Order:
    """A validated order. Personal data is never here: `customer_ref` points to the claim check."""

    order_id: str
    customer_ref: str
    currency: str
    lines: tuple[OrderLine, ...]
    express: bool = False

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "customer_ref": self.customer_ref,
            "currency": self.currency,
            "lines": [
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price_cents": line.unit_price_cents,
                }
                for line in self.lines
            ],
            "express": self.express,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        return cls(
            order_id=data["order_id"],
            customer_ref=data["customer_ref"],
            currency=data["currency"],
            lines=tuple(OrderLine(**line) for line in data["lines"]),
            express=bool(data.get("express", False)),
        )


def _int(value: Any) -> int | None:
    """A whole number, written `2` or `2.0` (JSON does not tell them apart; JSON Schema's
    "integer" takes both); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def parse_order(data: Any, customer_ref: str) -> Order:
    """Validate an order request body (without its personal data); InvalidOrder lists why not."""
    if not isinstance(data, dict):
        raise InvalidOrder(["the order must be a JSON object"])
    problems: list[str] = []
    order_id = data.get("order_id")
    if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
        problems.append(
            "order_id: 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    currency = data.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        problems.append(f"currency: one of {', '.join(sorted(CURRENCIES))}")
    raw_lines = data.get("lines")
    lines: list[OrderLine] = []
    if not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= MAX_LINES:
        problems.append(f"lines: a list of 1 to {MAX_LINES} order lines")
        raw_lines = []
    for index, raw in enumerate(raw_lines):
        where = f"lines[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: an object with sku, quantity and unit_price_cents")
            continue
        sku = raw.get("sku")
        quantity, price = _int(raw.get("quantity")), _int(raw.get("unit_price_cents"))
        found = len(problems)
        if not isinstance(sku, str) or not SKU.fullmatch(sku):
            problems.append(f"{where}.sku: 1-32 upper-case letters, digits or '-'")
        if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
            problems.append(f"{where}.quantity: a whole number from 1 to {MAX_QUANTITY}")
        if price is None or not 0 <= price <= MAX_UNIT_PRICE_CENTS:
            problems.append(
                f"{where}.unit_price_cents: a whole number of cents from 0 to "
                f"{MAX_UNIT_PRICE_CENTS}"
            )
        if len(problems) == found:
            lines.append(OrderLine(sku, quantity, price))  # type: ignore[arg-type]
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        problems.append("lines: each sku at most once")
    express = data.get("express", False)
    if not isinstance(express, bool):
        problems.append("express: true or false")
    if problems:
        raise InvalidOrder(problems)
    return Order(order_id, customer_ref, currency, tuple(lines), express)  # type: ignore[arg-type]


def needs_approval(order: Order, threshold_cents: int) -> bool:
    """Orders at or above the threshold wait for a human's decision."""
    return order.total_cents >= threshold_cents


def instance_id_for(order_id: str) -> str:
    """The orchestration instance id of an order: one order, one instance, whoever starts it."""
    return f"order-{order_id}"
