"""RFC 9457 bodies for the order endpoints, with JSON pointers to the fields at fault."""

from __future__ import annotations

import json

import pytest

from triggers.problem_details import pointer, problem, problem_response

INVALID_ORDER = "urn:problem-type:orders:invalid-order"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("currency: one of EUR", "#/currency"),
        ("lines[3].unit_price_cents: a whole number", "#/lines/3/unit_price_cents"),
        ("customer.email: an email address", "#/customer/email"),
        ("the order must be a JSON object", None),
        ("the body is not UTF-8 JSON: Expecting value", None),
    ],
)
def test_pointer(text: str, expected: str | None) -> None:
    assert pointer(text) == expected


def test_problem_response_is_problem_json() -> None:
    body = problem(400, INVALID_ORDER, "Invalid order", "see errors", ["currency: one of EUR"])
    response = problem_response(body)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert json.loads(response.get_body()) == {
        "type": INVALID_ORDER,
        "title": "Invalid order",
        "status": 400,
        "detail": "see errors",
        "errors": [{"detail": "currency: one of EUR", "pointer": "#/currency"}],
    }
    assert "errors" not in problem(404, "urn:x", "Not found", "none")
