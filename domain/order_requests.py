"""An incoming order request split into the order and the customer's personal data, validated."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from domain.order_payloads import CUSTOMER_REF
from domain.orders import InvalidOrder, Order, parse_order

MAX_CUSTOMER_FIELD = 500
# A reference stands in until the claim check has stored the personal data and returned one.
UNSET_REF = ""


@dataclass(frozen=True)
class OrderRequest:
    """A valid request: the order, and either personal data to store or an existing reference."""

    order: Order
    personal_data: dict[str, Any] | None

    def with_customer_ref(self, customer_ref: str) -> Order:
        return replace(self.order, customer_ref=customer_ref)


def parse_order_request(body: Any, *, allow_customer_ref: bool) -> OrderRequest:
    """Validate a request body; InvalidOrder lists every problem, naming fields but never values.

    The body is an order plus `customer` (name, email, address: personal data that only the
    claim check may keep) or, where the sender is trusted to have used the claim check already,
    `customer_ref`.
    """
    if not isinstance(body, dict):
        raise InvalidOrder(["the order must be a JSON object"])
    problems: list[str] = []
    customer, customer_ref = body.get("customer"), body.get("customer_ref")
    if customer is not None and customer_ref is not None:
        problems.append("customer: give customer or customer_ref, not both")
    elif customer is not None:
        problems.extend(_customer_problems(customer))
    elif customer_ref is not None and allow_customer_ref:
        if not isinstance(customer_ref, str) or not CUSTOMER_REF.match(customer_ref):
            problems.append("customer_ref: a claim-check reference")
    elif customer_ref is not None:
        problems.append("customer_ref: not accepted here; send customer")
    else:
        problems.append("customer: an object with name and email")
    fields = {k: v for k, v in body.items() if k not in ("customer", "customer_ref")}
    try:
        order = parse_order(fields, customer_ref if isinstance(customer_ref, str) else UNSET_REF)
    except InvalidOrder as invalid:
        problems = invalid.problems + problems
    if problems:
        raise InvalidOrder(problems)
    return OrderRequest(order, customer if isinstance(customer, dict) else None)


def _customer_problems(customer: Any) -> list[str]:
    if not isinstance(customer, dict):
        return ["customer: an object with name and email"]
    problems = []
    for name in ("name", "email"):
        value = customer.get(name)
        if not isinstance(value, str) or not 0 < len(value.strip()) <= MAX_CUSTOMER_FIELD:
            problems.append(f"customer.{name}: a non-empty text of at most {MAX_CUSTOMER_FIELD}")
    email = customer.get("email")
    if isinstance(email, str) and "@" not in email:
        problems.append("customer.email: an email address")
    return problems
