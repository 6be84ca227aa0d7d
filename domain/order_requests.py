"""An incoming order request split into the order and the customer's personal data, validated."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from domain.order_payloads import CUSTOMER_REF
from domain.orders import InvalidOrder, Order, parse_order

MAX_CUSTOMER_FIELD = 500
# A reference stands in until the claim check has stored the personal data and returned one.
UNSET_REF = ""

PERSONAL_DATA_ON_QUEUE = (
    "customer: personal data is not accepted in a queue message; "
    "store it with the claim check and send customer_ref"
)


class CustomerForm(StrEnum):
    """How a channel carries the customer: the one form it accepts, the other is a problem."""

    # HTTPS requests: `customer` (name, email, address), stored by the starter's claim check.
    # A reference is refused: a caller could point at someone else's data.
    INLINE = "inline"
    # Queue messages: `customer_ref` only. A message, and its dead letter when delivery fails,
    # would otherwise hold personal data outside the private container.
    REFERENCE = "reference"


@dataclass(frozen=True)
class OrderRequest:
    """A valid request: the order, and either personal data to store or an existing reference."""

    order: Order
    personal_data: dict[str, Any] | None

    def with_customer_ref(self, customer_ref: str) -> Order:
        return replace(self.order, customer_ref=customer_ref)


def parse_order_request(
    body: Any,
    *,
    customer_form: CustomerForm,
) -> OrderRequest:
    """Validate a request body; InvalidOrder lists every problem, naming fields but never values.

    The body is an order plus the customer in `customer_form`: `customer` (personal data that
    only the claim check may keep) or `customer_ref` (a reference to what a sender stored).
    """
    form = customer_form
    if not isinstance(body, dict):
        raise InvalidOrder(["the order must be a JSON object"])
    customer, customer_ref = body.get("customer"), body.get("customer_ref")
    if form is CustomerForm.INLINE:
        problems = _inline_problems(customer, customer_ref)
    else:
        problems = _reference_problems(customer, customer_ref)
    fields = {k: v for k, v in body.items() if k not in ("customer", "customer_ref")}
    try:
        order = parse_order(fields, customer_ref if isinstance(customer_ref, str) else UNSET_REF)
    except InvalidOrder as invalid:
        problems = invalid.problems + problems
    if problems:
        raise InvalidOrder(problems)
    return OrderRequest(order, customer if form is CustomerForm.INLINE else None)


def _inline_problems(customer: Any, customer_ref: Any) -> list[str]:
    if customer_ref is not None:
        return ["customer_ref: not accepted here; send customer"]
    if customer is None:
        return ["customer: an object with name and email"]
    return _customer_problems(customer)


def _reference_problems(customer: Any, customer_ref: Any) -> list[str]:
    # The personal data is never looked at, not even to validate it: only refused.
    problems = [PERSONAL_DATA_ON_QUEUE] if customer is not None else []
    if customer_ref is None:
        if customer is None:
            problems.append("customer_ref: a claim-check reference")
    elif not isinstance(customer_ref, str) or not CUSTOMER_REF.fullmatch(customer_ref):
        problems.append("customer_ref: a claim-check reference")
    return problems


def _customer_problems(customer: Any) -> list[str]:
    if not isinstance(customer, dict):
        return ["customer: an object with name and email"]
    problems = []
    for name in ("name", "email"):
        value = customer.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_CUSTOMER_FIELD:
            problems.append(f"customer.{name}: a non-empty text of at most {MAX_CUSTOMER_FIELD}")
        elif name == "email" and "@" not in value:  # one problem per field
            problems.append("customer.email: an email address")
    address = customer.get("address")
    if address is not None and (not isinstance(address, str) or len(address) > MAX_CUSTOMER_FIELD):
        problems.append(f"customer.address: a text of at most {MAX_CUSTOMER_FIELD}")
    return problems
