"""Order requests split into the order and personal data; problems name fields, never values."""

from __future__ import annotations

from typing import Any

import pytest

from domain.order_requests import UNSET_REF, parse_order_request
from domain.orders import InvalidOrder

CUSTOMER = {"name": "Ada Example", "email": "ada@example.invalid", "address": "1 Main St"}


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "order_id": "o-1",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 500}],
        "customer": CUSTOMER,
    }
    return {**base, **changes}


def problems(data: Any, *, allow_customer_ref: bool = False) -> list[str]:
    with pytest.raises(InvalidOrder) as raised:
        parse_order_request(data, allow_customer_ref=allow_customer_ref)
    return raised.value.problems


def test_personal_data_is_split_from_the_order() -> None:
    request = parse_order_request(body(), allow_customer_ref=False)
    assert request.personal_data == CUSTOMER
    assert request.order.customer_ref == UNSET_REF
    assert request.order.total_cents == 1000
    assert request.with_customer_ref("claim-1").customer_ref == "claim-1"
    assert "customer" not in request.order.to_dict()


def test_a_reference_is_accepted_only_where_allowed() -> None:
    data = body()
    del data["customer"]
    data["customer_ref"] = "claims/o-1"
    request = parse_order_request(data, allow_customer_ref=True)
    assert request.personal_data is None
    assert request.order.customer_ref == "claims/o-1"
    assert problems(data) == ["customer_ref: not accepted here; send customer"]
    data["customer_ref"] = "bad ref with spaces"
    assert problems(data, allow_customer_ref=True) == ["customer_ref: a claim-check reference"]


def test_customer_problems_name_the_field_not_the_value() -> None:
    found = problems(body(customer={"name": "", "email": "secret-without-at"}))
    assert found == [
        "customer.name: a non-empty text of at most 500",
        "customer.email: an email address",
    ]
    assert not any("secret" in p for p in found)
    assert problems(body(customer="Ada")) == ["customer: an object with name and email"]


def test_order_and_customer_problems_are_reported_together() -> None:
    data = body(currency="XXX")
    del data["customer"]
    assert problems(data) == [
        "currency: one of EUR, GBP, USD",
        "customer: an object with name and email",
    ]
    assert problems(body(customer_ref="x")) == ["customer: give customer or customer_ref, not both"]
    assert problems([1, 2]) == ["the order must be a JSON object"]
