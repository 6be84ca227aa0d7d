"""Order requests split into the order and personal data; problems name fields, never values."""

from __future__ import annotations

from typing import Any

import pytest

from domain.order_requests import (
    PERSONAL_DATA_ON_QUEUE,
    UNSET_REF,
    CustomerForm,
    parse_order_request,
)
from domain.orders import InvalidOrder

CUSTOMER = {"name": "Ada Example", "email": "ada@example.invalid", "address": "1 Main St"}
REF = "claim://orders-private/customers/o-1.json"


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "order_id": "o-1",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 500}],
        "customer": CUSTOMER,
    }
    return {**base, **changes}


def by_ref(**changes: Any) -> dict[str, Any]:
    data = body(**{"customer_ref": REF, **changes})
    del data["customer"]
    return data


def problems(data: Any, form: CustomerForm = CustomerForm.INLINE) -> list[str]:
    with pytest.raises(InvalidOrder) as raised:
        parse_order_request(data, customer_form=form)
    return raised.value.problems


def test_personal_data_is_split_from_the_order() -> None:
    request = parse_order_request(body(), customer_form=CustomerForm.INLINE)
    assert request.personal_data == CUSTOMER
    assert request.order.customer_ref == UNSET_REF
    assert request.order.total_cents == 1000
    assert request.with_customer_ref("claim-1").customer_ref == "claim-1"
    assert "customer" not in request.order.to_dict()


def test_the_reference_form_takes_a_claim_check_reference() -> None:
    request = parse_order_request(by_ref(), customer_form=CustomerForm.REFERENCE)
    assert request.personal_data is None
    assert request.order.customer_ref == REF
    bad = by_ref(customer_ref="bad ref with spaces")
    assert problems(bad, CustomerForm.REFERENCE) == ["customer_ref: a claim-check reference"]
    missing = by_ref()
    del missing["customer_ref"]
    assert problems(missing, CustomerForm.REFERENCE) == ["customer_ref: a claim-check reference"]


def test_the_reference_form_refuses_personal_data_without_reading_it() -> None:
    for data in (body(), body(customer_ref=REF), body(customer="not even an object")):
        found = problems(data, CustomerForm.REFERENCE)
        assert found == [PERSONAL_DATA_ON_QUEUE]
        assert "claim check" in found[0] and "customer_ref" in found[0]
        assert not any(value in found[0] for value in CUSTOMER.values())
    # Listed with the order's own problems, so the rejection says everything at once.
    assert problems(body(currency="XXX"), CustomerForm.REFERENCE) == [
        "currency: one of EUR, GBP, USD",
        PERSONAL_DATA_ON_QUEUE,
    ]


def test_the_inline_form_refuses_a_reference() -> None:
    assert problems(by_ref()) == ["customer_ref: not accepted here; send customer"]
    assert problems(body(customer_ref=REF)) == ["customer_ref: not accepted here; send customer"]


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
    assert problems([1, 2]) == ["the order must be a JSON object"]
    assert problems([1, 2], CustomerForm.REFERENCE) == ["the order must be a JSON object"]
