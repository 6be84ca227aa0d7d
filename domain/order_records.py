"""An order as the store keeps it: status, amounts, timestamps, and the rule that ends are final."""

from __future__ import annotations

from datetime import datetime

from domain.orders import OrderLine, OrderStatus
from domain.payload import Model, Timestamp, utc


class OrderNotFound(Exception):
    """No order was recorded under this id."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order not found: {order_id}")
        self.order_id = order_id


def order_day(received_at: datetime) -> str:
    """The UTC day (yyyy-MM-dd) an order belongs to: its partition in the order store."""
    return utc(received_at).strftime("%Y-%m-%d")


def next_status(current: OrderStatus, requested: OrderStatus) -> OrderStatus:
    """The status after a requested change: a terminal status is final, anything else moves."""
    return current if current.is_terminal else requested


class OrderRecord(Model):
    """One stored order. `customer_ref` is a claim-check reference, never personal data."""

    order_id: str
    order_day: str
    status: OrderStatus
    currency: str
    total_cents: int
    express: bool
    lines: tuple[OrderLine, ...]
    customer_ref: str
    reason: str
    created_at: Timestamp
    updated_at: Timestamp
