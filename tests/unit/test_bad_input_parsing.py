"""Every parser of what callers send turns any JSON value of the wrong type into a field problem.

Each field of each request gets a value of every other JSON type; the parser must raise its own
"invalid" error with one problem naming that field (a JSON pointer in the 400), and nothing
else (a TypeError here is a 500 over HTTP and a dead letter on the queue).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import azure.functions as func
import pytest

from domain.approval_tokens import InvalidApprovalToken, issue, verify
from domain.monitors import InvalidMonitorRequest, parse_monitor_request
from domain.order_requests import MAX_CUSTOMER_FIELD
from domain.orders import MAX_LINES, MAX_QUANTITY, MAX_UNIT_PRICE_CENTS, InvalidOrder
from domain.outbound import AllowList
from domain.strict_json import MAX_DEPTH
from triggers.correlation import InvalidCorrelationId, correlation_id
from triggers.order_cancel import cancel_request_problems
from triggers.order_commands_http import approval_request_problems
from triggers.order_intake import parse_http_order, parse_queued_order
from triggers.orders_servicebus import correlation_problems, parse_message
from triggers.problem_details import pointer
from triggers.request_body import NOT_JSON, InvalidBody, json_body

SAMPLES: dict[str, Any] = {
    "object": {"k": "v"},
    "array": ["x"],
    "string": "x",
    "number": 1.5,
    "integer": 7,
    "boolean": True,
    "null": None,
    "huge": 10**30,
}
CUSTOMER = {"name": "Ada Example", "email": "ada@example.invalid", "address": "1 Main St"}
REF = "claim://orders-private/customers/o-1.json"
KEY = "unit-test-approval-signing-key-0123456789abcdef"


def order(**changes: Any) -> dict[str, Any]:
    base = {
        "order_id": "o-1",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 500}],
        "customer": CUSTOMER,
    }
    return {**base, **changes}


def set_at(body: Any, where: str, value: Any) -> Any:
    """A copy of `body` with `value` at the JSON pointer `where` ("#/lines/0/sku")."""
    body = copy.deepcopy(body)
    *parents, last = where.removeprefix("#/").split("/")
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def wrong_values(kind: str, optional: bool) -> list[tuple[str, Any]]:
    """Every sample that is not of `kind` (integers are numbers; null when the field is needed)."""
    same = {kind} | ({"integer"} if kind == "number" else set())
    skipped = same | ({"null"} if optional else set())
    return [(name, value) for name, value in SAMPLES.items() if name not in skipped]


def pointers_of(problems: list[str]) -> set[str | None]:
    return {pointer(problem) for problem in problems}


def sweep(
    fields: dict[str, tuple[str, bool]],
) -> list[tuple[str, str, Any]]:
    return [
        (field, name, value)
        for field, (kind, optional) in fields.items()
        for name, value in wrong_values(kind, optional)
    ]


# -- orders -----------------------------------------------------------------------------------

ORDER_FIELDS = {
    "#/order_id": ("string", False),
    "#/currency": ("string", False),
    "#/lines": ("array", False),
    "#/lines/0": ("object", False),
    "#/lines/0/sku": ("string", False),
    "#/lines/0/quantity": ("integer", False),
    "#/lines/0/unit_price_cents": ("integer", False),
    "#/express": ("boolean", True),
    "#/callback_url": ("string", True),
    "#/customer": ("object", False),
    "#/customer/name": ("string", False),
    "#/customer/email": ("string", False),
    "#/customer/address": ("string", True),
}
VALID_STRINGS = {"#/order_id", "#/lines/0/sku", "#/customer/name"}  # "x" is a valid value


def http_order_problems(body: Any) -> list[str]:
    with pytest.raises(InvalidOrder) as raised:
        parse_http_order(body)
    return raised.value.problems


@pytest.mark.parametrize(("field", "sample", "value"), sweep(ORDER_FIELDS))
def test_every_wrong_type_in_an_http_order_is_a_problem_for_its_field(
    field: str, sample: str, value: Any
) -> None:
    if field in VALID_STRINGS and sample == "string":
        pytest.skip("a valid value")
    assert field in pointers_of(http_order_problems(set_at(order(), field, value)))


QUEUED_FIELDS = {
    **{k: v for k, v in ORDER_FIELDS.items() if not k.startswith("#/customer")},
    "#/customer_ref": ("string", False),
}


@pytest.mark.parametrize(("field", "sample", "value"), sweep(QUEUED_FIELDS))
def test_every_wrong_type_in_a_queued_order_is_a_problem_for_its_field(
    field: str, sample: str, value: Any
) -> None:
    if field in VALID_STRINGS and sample == "string":
        pytest.skip("a valid value")
    body = order(customer_ref=REF)
    del body["customer"]
    with pytest.raises(InvalidOrder) as raised:
        parse_queued_order(set_at(body, field, value), None)
    assert field in pointers_of(raised.value.problems)


@pytest.mark.parametrize("currency", [{}, ["EUR"], {"EUR": "EUR"}, 978, True])
def test_a_currency_of_the_wrong_type_is_a_problem_not_a_type_error(currency: Any) -> None:
    problems = http_order_problems(order(currency=currency))
    assert problems == ["currency: one of EUR, GBP, USD"]


def test_prices_are_bounded_so_every_total_fits_an_interoperable_integer() -> None:
    line = {"sku": "SKU-1", "quantity": MAX_QUANTITY, "unit_price_cents": MAX_UNIT_PRICE_CENTS}
    lines = [{**line, "sku": f"SKU-{n}"} for n in range(MAX_LINES)]
    request, _ = parse_http_order(order(lines=lines))
    assert request.order.total_cents < 2**53
    too_much = order(lines=[{**line, "unit_price_cents": MAX_UNIT_PRICE_CENTS + 1}])
    assert pointers_of(http_order_problems(too_much)) == {"#/lines/0/unit_price_cents"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("#/order_id", "o-1\n"),
        ("#/order_id", "o-1\r\n"),
        ("#/lines/0/sku", "SKU-1\n"),
        ("#/customer/address", "x" * (MAX_CUSTOMER_FIELD + 1)),
    ],
)
def test_ids_with_a_trailing_line_break_and_long_addresses_are_refused(
    field: str, value: str
) -> None:
    assert pointers_of(http_order_problems(set_at(order(), field, value))) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", ""),
        ("email", " "),
        ("name", " " * MAX_CUSTOMER_FIELD + "x"),  # the limit is on what is stored
        ("email", "a@" + "x" * MAX_CUSTOMER_FIELD),
    ],
)
def test_a_customer_field_gets_one_problem(field: str, value: str) -> None:
    found = http_order_problems(order(customer={**CUSTOMER, field: value}))
    assert [pointer(problem) for problem in found] == [f"#/customer/{field}"]


def test_a_customer_ref_with_a_trailing_line_break_is_refused() -> None:
    body = order(customer_ref=REF + "\n")
    del body["customer"]
    with pytest.raises(InvalidOrder) as raised:
        parse_queued_order(body, None)
    assert pointers_of(raised.value.problems) == {"#/customer_ref"}


# -- monitors ---------------------------------------------------------------------------------

MONITOR = {
    "monitor_id": "m-1",
    "status_url": "https://status.example.com/ops/1",
    "condition": {"pointer": "/status", "equals": "done"},
    "failure_condition": {"pointer": "/error", "exists": True},
    "interval_seconds": 10,
    "max_interval_seconds": 60,
    "backoff_factor": 2,
    "expires_in_seconds": 3600,
    "callback_url": "https://hooks.example.com/done",
}
MONITOR_FIELDS = {
    "#/monitor_id": ("string", True),
    "#/status_url": ("string", False),
    "#/callback_url": ("string", True),
    "#/condition": ("object", False),
    "#/condition/pointer": ("string", False),
    "#/failure_condition": ("object", True),
    "#/failure_condition/exists": ("boolean", False),
    "#/interval_seconds": ("number", True),
    "#/max_interval_seconds": ("number", True),
    "#/backoff_factor": ("number", True),
    "#/expires_in_seconds": ("number", True),
}


@pytest.mark.parametrize(("field", "sample", "value"), sweep(MONITOR_FIELDS))
def test_every_wrong_type_in_a_monitor_is_a_problem_for_its_field(
    field: str, sample: str, value: Any
) -> None:
    if field in ("#/monitor_id", "#/condition/pointer") and sample == "string":
        pytest.skip("a valid value")
    with pytest.raises(InvalidMonitorRequest) as raised:
        parse_monitor_request(set_at(MONITOR, field, value), AllowList())
    assert field in pointers_of(raised.value.problems)


@pytest.mark.parametrize("value", [{"k": "v"}, ["x"]])
def test_a_condition_operand_of_the_wrong_type_is_a_problem_for_it(value: Any) -> None:
    with pytest.raises(InvalidMonitorRequest) as raised:
        parse_monitor_request(set_at(MONITOR, "#/condition/equals", value), AllowList())
    assert pointers_of(raised.value.problems) == {"#/condition/equals"}


def test_a_monitor_id_with_a_trailing_line_break_is_refused() -> None:
    with pytest.raises(InvalidMonitorRequest) as raised:
        parse_monitor_request({**MONITOR, "monitor_id": "m-1\n"}, AllowList())
    assert pointers_of(raised.value.problems) == {"#/monitor_id"}


# -- thumbnail and nightly-report jobs: their request models are tested with their rules, in
# tests/unit/test_thumbnail_rules.py and tests/unit/test_nightly_report_rules.py.


# -- cancel and approval bodies ---------------------------------------------------------------


def test_a_cancel_body_is_optional_and_its_reason_a_text() -> None:
    assert cancel_request_problems(None) == []
    assert cancel_request_problems({}) == []
    assert cancel_request_problems({"reason": "changed my mind", "other": 1}) == []
    for sample, value in wrong_values("string", optional=True):
        assert pointers_of(cancel_request_problems({"reason": value})) == {"#/reason"}, sample
    for sample, value in wrong_values("object", optional=True):
        assert pointers_of(cancel_request_problems(value)) == {None}, sample


def test_an_approval_body_names_each_field_of_the_wrong_type() -> None:
    assert approval_request_problems({"approved": True, "token": "t"}) == []
    assert approval_request_problems({"approved": False}) == []  # no token: a 401, not a 400
    for field, kind, optional in (
        ("approved", "boolean", False),
        ("token", "string", True),
        ("reason", "string", True),
    ):
        for sample, value in wrong_values(kind, optional):
            body = {"approved": True, "token": "t", field: value}
            assert pointers_of(approval_request_problems(body)) == {f"#/{field}"}, sample
    for sample, value in wrong_values("object", optional=False):
        assert pointers_of(approval_request_problems(value)) == {None}, sample


@pytest.mark.parametrize("token", ["v1.é.abc", "v1.abc.é", "é", "v1.\x00.x", "v1.\ud800.x"])
def test_a_token_that_is_not_ascii_is_invalid_not_an_encoding_error(token: str) -> None:
    with pytest.raises(InvalidApprovalToken):
        verify(token, "o-1", datetime.now(UTC), KEY)
    genuine = issue("o-1", "approver-1", datetime.now(UTC) + timedelta(hours=1), KEY)
    assert verify(genuine, "o-1", datetime.now(UTC), KEY) == "approver-1"


# -- the HTTP body reader and the correlation header ------------------------------------------


def request(body: bytes = b"", headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/orders", headers=headers, body=body)


def test_the_body_reader_refuses_with_a_detail_that_never_quotes_the_body() -> None:
    assert json_body(request(b'{"a": [1]}')) == {"a": [1]}
    for raw, detail in (
        (b"", NOT_JSON),
        (b"{secret", NOT_JSON),
        (b"\xffsecret", NOT_JSON),
        (
            b"[" * 1500 + b"]" * 1500,
            f"The body is refused: it nests deeper than {MAX_DEPTH} levels.",
        ),
        (b'{"secret": NaN}', "The body is refused: NaN is not a JSON number."),
    ):
        with pytest.raises(InvalidBody) as raised:
            json_body(request(raw))
        assert raised.value.detail == detail
        assert "secret" not in raised.value.detail


def test_an_optional_body_may_be_empty_but_not_malformed() -> None:
    assert json_body(request(b""), optional=True) is None
    assert json_body(request(b" \r\n"), optional=True) is None
    assert json_body(request(b"null"), optional=True) is None
    assert json_body(request(b'{"reason": "r"}'), optional=True) == {"reason": "r"}
    with pytest.raises(InvalidBody):
        json_body(request(b"[" * 40 + b"]" * 40), optional=True)


def test_a_correlation_header_is_taken_new_or_refused() -> None:
    assert correlation_id(request(headers={"x-correlation-id": "checkout-42"})) == "checkout-42"
    assert correlation_id(request(headers={"X-Correlation-Id": "a.b:c_d-1"})) == "a.b:c_d-1"
    fresh = correlation_id(request())
    assert len(fresh) == 32 and fresh != correlation_id(request())
    for given in ("", "has space", "x" * 129, "semi;colon", "tab\there", "é"):
        with pytest.raises(InvalidCorrelationId) as raised:
            correlation_id(request(headers={"x-correlation-id": given}))
        assert str(raised.value).startswith("x-correlation-id: ")
        assert not given or given not in str(raised.value)


# -- queue messages ---------------------------------------------------------------------------


def message(correlation_id: str | None, message_id: str | None) -> func.ServiceBusMessage:
    return cast(
        func.ServiceBusMessage,
        SimpleNamespace(correlation_id=correlation_id, message_id=message_id),
    )


def test_a_message_correlation_id_is_held_to_the_headers_pattern() -> None:
    assert correlation_problems(message("c-1", "m 1")) == []  # the CorrelationId is used
    assert correlation_problems(message(None, uuid.uuid4().hex)) == []
    assert correlation_problems(message(None, None)) == []
    (problem,) = correlation_problems(message("not valid", "m-1"))
    assert problem.startswith("CorrelationId: ") and "not valid" not in problem
    (problem,) = correlation_problems(message(None, "order/17"))
    assert problem.startswith("MessageId: ") and "order/17" not in problem


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1500 + b"]" * 1500, f"the body is refused: it nests deeper than {MAX_DEPTH}"),
        (b'{"order_id": NaN}', "the body is refused: NaN is not a JSON number"),
        (b"\xff", "the body is not UTF-8 JSON: 'utf-8' codec can't decode"),
        (json.dumps({"currency": {}}).encode(), "currency: one of"),
        (json.dumps(["order"]).encode(), "the order must be a JSON object"),
    ],
)
def test_a_message_body_of_any_shape_is_an_invalid_order(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidOrder) as raised:
        parse_message(body, None)
    assert reason in str(raised.value)


Parser = Callable[[Any], object]


@pytest.mark.parametrize(
    ("parse", "error"),
    [
        (lambda body: parse_http_order(body), InvalidOrder),
        (lambda body: parse_queued_order(body, None), InvalidOrder),
        (lambda body: parse_monitor_request(body, AllowList()), InvalidMonitorRequest),
    ],
    ids=["http-order", "queued-order", "monitor"],
)
def test_a_body_that_is_not_an_object_is_refused_by_every_parser(
    parse: Parser, error: type[Exception]
) -> None:
    for sample, value in wrong_values("object", optional=False):
        with pytest.raises(error) as raised:
            parse(value)
        assert "object" in str(raised.value), sample
