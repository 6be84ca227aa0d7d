"""Order rules: what a valid order is, what it costs, and when it needs a human's approval."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field

from domain.payload import WHOLE, Model

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


# The rules as JSON Schema patterns (ECMA-262 and Python read them alike).
ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
# A claim-check reference or a producer's own reference: no spaces, no '@' (never an email).
CUSTOMER_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}$"

OrderId = Annotated[
    str,
    Field(
        pattern=ORDER_ID_PATTERN,
        description="1-64 letters, digits, '-' or '_', starting with a letter or digit.",
    ),
]
Currency = Literal["EUR", "GBP", "USD"]
CURRENCIES = frozenset(get_args(Currency))
CustomerRef = Annotated[
    str,
    Field(pattern=CUSTOMER_REF_PATTERN, description="A claim-check reference."),
]


class OrderLine(Model):
    sku: Annotated[
        str, Field(pattern=SKU_PATTERN, description="1-32 upper-case letters, digits or '-'.")
    ]
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY), WHOLE]
    unit_price_cents: Annotated[int, Field(ge=0, le=MAX_UNIT_PRICE_CENTS), WHOLE]

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_price_cents


def _distinct_skus(lines: tuple[OrderLine, ...]) -> tuple[OrderLine, ...]:
    """An order names each SKU once (quantities say how many)."""
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise ValueError("each sku at most once")
    return lines


OrderLines = Annotated[
    tuple[OrderLine, ...],
    Field(min_length=1, max_length=MAX_LINES),
    AfterValidator(_distinct_skus),
]


class Order(Model):
    """A validated order. Personal data is never here: `customer_ref` points to the claim check.
    Fields are in the order recorded histories hold them (activity inputs are compared as text)."""

    order_id: OrderId
    customer_ref: CustomerRef
    currency: Currency
    lines: OrderLines
    express: bool = False

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def needs_approval(order: Order, threshold_cents: int) -> bool:
    """Orders at or above the threshold wait for a human's decision."""
    return order.total_cents >= threshold_cents


ORDER_ID = re.compile(ORDER_ID_PATTERN)


def instance_id_for(order_id: str) -> str:
    """The orchestration instance id of an order: one order, one instance, whoever starts it."""
    return f"order-{order_id}"
