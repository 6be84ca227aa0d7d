"""Order requests over HTTP (customer inline) and on the queues (a reference only); problems
name fields, never values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.order_requests import (
    PERSONAL_DATA_ON_QUEUE,
    OrderRequest,
    parse_order_message,
)
from domain.orders import CUSTOMER_REF_PATTERN
from domain.payload import InvalidPayload, parse_request

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


def problems(data: Any) -> list[str]:
    with pytest.raises(InvalidPayload) as raised:
        parse_request(OrderRequest, json.dumps(data))
    return raised.value.problems


def message_problems(data: Any) -> list[str]:
    with pytest.raises(InvalidPayload) as raised:
        parse_order_message(json.dumps(data).encode())
    return raised.value.problems


def test_personal_data_stays_out_of_the_order() -> None:
    request = parse_request(OrderRequest, json.dumps(body()))
    assert request.customer.model_dump(exclude_none=True) == CUSTOMER
    order = request.order("claim-1")
    assert order.customer_ref == "claim-1" and order.total_cents == 1000
    assert "customer" not in order.dump()


def test_a_message_takes_a_claim_check_reference() -> None:
    message = parse_order_message(json.dumps(by_ref()).encode())
    assert message.order("ignored").customer_ref == "ignored"
    assert message.customer_ref == REF
    assert message_problems(by_ref(customer_ref="bad ref with spaces")) == [
        f"customer_ref: String should match pattern '{CUSTOMER_REF_PATTERN}'"
    ]
    missing = by_ref()
    del missing["customer_ref"]
    assert message_problems(missing) == ["customer_ref: Field required"]


def test_a_message_refuses_personal_data_without_reading_it() -> None:
    for data in (body(customer_ref=REF), body(customer="not even an object")):
        found = message_problems(data)
        assert PERSONAL_DATA_ON_QUEUE in found
        assert not any(value in p for p in found for value in CUSTOMER.values())
    # Listed with the order's own problems, so the rejection says everything at once.
    assert message_problems(body(customer_ref=REF, currency="XXX")) == [
        "currency: Input should be 'EUR', 'GBP' or 'USD'",
        PERSONAL_DATA_ON_QUEUE,
    ]


def test_an_http_request_refuses_a_reference() -> None:
    assert problems(body(customer_ref=REF)) == ["customer_ref: Extra inputs are not permitted"]


def test_customer_problems_name_the_field_not_the_value() -> None:
    found = problems(body(customer={"name": " ", "email": "secret-without-at"}))
    assert [p.split(":", 1)[0] for p in found] == ["customer.name", "customer.email"]
    assert not any("secret" in p for p in found)
    assert problems(body(customer="Ada")) == ["customer: Input should be an object"]


def test_order_and_customer_problems_are_reported_together() -> None:
    data = body(currency="XXX")
    del data["customer"]
    assert problems(data) == [
        "currency: Input should be 'EUR', 'GBP' or 'USD'",
        "customer: Field required",
    ]
    assert problems([1, 2]) == ["Input should be an object"]
    assert message_problems([1, 2]) == ["Input should be an object"]
