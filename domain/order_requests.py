"""An order start request as callers send it: over HTTPS with the customer inline, or as a queue
message with a claim-check reference only."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from domain.orders import Currency, CustomerRef, Order, OrderId, OrderLines
from domain.outbound import CallbackUrl
from domain.payload import InvalidPayload, Model, parse_request

MAX_CUSTOMER_FIELD = 500

PERSONAL_DATA_ON_QUEUE = (
    "customer: personal data is not accepted in a queue message; "
    "store it with the claim check and send customer_ref"
)


# Python's str.strip() also removes these, which JSON Schema's \s leaves out.
NOT_ONLY_WHITE_SPACE = r"[^\s\x1c-\x1f\x85\ufeff]"


class Customer(Model):
    """Personal data: kept only in the claim-check container, never in a status or a log."""

    name: Annotated[
        str,
        Field(
            max_length=MAX_CUSTOMER_FIELD,
            pattern=NOT_ONLY_WHITE_SPACE,
            description="Not only white space.",
        ),
    ]
    email: Annotated[
        str,
        Field(
            max_length=MAX_CUSTOMER_FIELD,
            pattern="@",
            description="Any text with an @ (the address is not checked further).",
        ),
    ]
    address: Annotated[str, Field(max_length=MAX_CUSTOMER_FIELD)] | None = None


class OrderFields(Model):
    """What both channels send besides the customer."""

    order_id: OrderId
    currency: Currency
    lines: OrderLines
    express: bool = False
    callback_url: CallbackUrl | None = None

    def order(self, customer_ref: str) -> Order:
        """The order the workflow runs, once the customer is a reference."""
        fields = self.model_dump(include={"order_id", "currency", "lines", "express"})
        return Order(customer_ref=customer_ref, **fields)


class OrderRequest(OrderFields):
    """POST /api/orders (and /api/jobs/order): the customer inline, stored by the claim check.
    A reference is refused: a caller could point at someone else's data."""

    customer: Customer


class OrderMessage(OrderFields):
    """A message on the `orders` queues: a claim-check reference only. A message, and its dead
    letter when delivery fails, would otherwise hold personal data outside the private
    container; an inline customer is refused as an unknown member, without being looked at."""

    customer_ref: CustomerRef


def parse_order_message(body: bytes) -> OrderMessage:
    """The message's order; InvalidPayload lists every problem, an inline customer first
    among equals with the reason it is refused."""
    try:
        return parse_request(OrderMessage, body)
    except InvalidPayload as invalid:
        problems = [
            PERSONAL_DATA_ON_QUEUE if p.startswith("customer: ") else p for p in invalid.problems
        ]
        raise InvalidPayload(problems) from None
