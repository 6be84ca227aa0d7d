"""Every request model turns any JSON value of the wrong type into a problem for its field.

Each member of a valid body of each model the API and the queues read (walked from the model's
own JSON schema, so a new field is covered without listing it) gets a value of every other JSON
type; reading must raise InvalidPayload with a problem naming that member (a JSON pointer in
the 400), and nothing else: a TypeError here is a 500 over HTTP and a dead letter on a queue.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import azure.functions as func
import pytest

from domain.approval_tokens import InvalidApprovalToken, issue, verify
from domain.fulfilment import ApprovalRequest, CancelRequest
from domain.order_requests import MAX_CUSTOMER_FIELD, OrderMessage, OrderRequest
from domain.orders import MAX_LINES, MAX_QUANTITY, MAX_UNIT_PRICE_CENTS
from domain.payload import InvalidPayload, Model, parse_request
from triggers.correlation import InvalidCorrelationId, correlation_id
from triggers.job_registry import JOB_TYPES
from triggers.orders_servicebus import correlation_problems, parse_queued_order
from triggers.problem_details import pointer

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
ORDER = {
    "order_id": "o-1",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 500}],
    "express": False,
    "callback_url": "https://hooks.example.com/orders",
    "customer": CUSTOMER,
}
MESSAGE = {**{k: v for k, v in ORDER.items() if k != "customer"}, "customer_ref": REF}
MONITOR = {
    "monitor_id": "m-1",
    "status_url": "https://status.example.com/ops/1",
    "condition": {"pointer": "/status", "equals": "done"},
    "interval_seconds": 10,
    "max_interval_seconds": 60,
    "backoff_factor": 2,
    "expires_in_seconds": 3600,
    "callback_url": "https://hooks.example.com/done",
}
VALID: dict[type[Model], dict[str, Any]] = {
    OrderRequest: ORDER,
    OrderMessage: MESSAGE,
    CancelRequest: {"reason": "changed my mind"},
    ApprovalRequest: {"approved": True, "token": "v1.x.y", "reason": "fine"},
    JOB_TYPES["monitor"].request: MONITOR,
    JOB_TYPES["thumbnail"].request: {"blob": "photos/cat.jpg"},
    JOB_TYPES["nightly-report"].request: {"day": "2026-01-02"},
}


def test_every_request_model_has_a_valid_body_here() -> None:
    requests = {job.request for job in JOB_TYPES.values()}
    assert requests <= VALID.keys()
    for model, body in VALID.items():
        parse_request(model, json.dumps(body))  # valid as written


def set_at(body: Any, where: str, value: Any) -> Any:
    """A copy of `body` with `value` at the JSON pointer `where` ("#/lines/0/sku")."""
    body = copy.deepcopy(body)
    *parents, last = where.removeprefix("#/").split("/")
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return body


def json_types(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[set[str], dict | None]:
    """The JSON types a schema takes, and the object or array schema to walk into."""
    if "$ref" in schema:
        return json_types(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    kinds: set[str] = set()
    inner = None
    for branch in schema.get("anyOf", schema.get("oneOf", [])):
        more, deeper = json_types(branch, defs)
        kinds |= more
        inner = inner or deeper
    given = schema.get("type")
    if given is None and "enum" in schema:
        given = sorted({type(v).__name__.replace("str", "string") for v in schema["enum"]})
    kinds |= set([given] if isinstance(given, str) else given or [])
    if kinds & {"object", "array"}:
        inner = inner or schema
    return kinds, inner


def members(
    schema: dict[str, Any], defs: dict[str, Any], value: Any, where: str = "#"
) -> Iterator[tuple[str, set[str]]]:
    """Every member present in `value` with the JSON types its schema takes."""
    kinds, inner = json_types(schema, defs)
    if where != "#":
        yield where, kinds
    if inner is None:
        return
    if isinstance(value, dict):
        for name, child in value.items():
            prop = inner.get("properties", {}).get(name)
            if prop is not None:
                yield from members(prop, defs, child, f"{where}/{name}")
    elif isinstance(value, list) and value and "items" in inner:
        yield from members(inner["items"], defs, value[0], f"{where}/0")


def sweep() -> Iterator[tuple[type[Model], str, str, Any]]:
    for model, body in VALID.items():
        schema = model.model_json_schema()
        for where, kinds in members(schema, schema.get("$defs", {}), body):
            same = kinds | (
                {"integer", "huge"} if "number" in kinds or "integer" in kinds else set()
            )
            for sample, value in SAMPLES.items():
                if sample not in same and not (sample == "integer" and "number" in kinds):
                    yield model, where, sample, value


CASES = list(sweep())


@pytest.mark.parametrize(
    ("model", "where", "sample", "value"),
    CASES,
    ids=[f"{m.__name__}{w.removeprefix('#')}={s}" for m, w, s, _ in CASES],
)
def test_every_wrong_type_is_a_problem_for_its_member(
    model: type[Model], where: str, sample: str, value: Any
) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_request(model, json.dumps(set_at(VALID[model], where, value)))
    pointers = {pointer(problem) for problem in raised.value.problems}
    assert any(p is not None and (p == where or p.startswith(where + "/")) for p in pointers), (
        raised.value.problems
    )


def test_the_sweep_covers_nested_members() -> None:
    swept = {(m.__name__, w) for m, w, _, _ in CASES}
    assert ("OrderRequest", "#/lines/0/quantity") in swept
    assert ("OrderRequest", "#/customer/address") in swept
    assert ("OrderMessage", "#/customer_ref") in swept
    assert len(CASES) > 150


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
def test_a_body_that_is_not_an_object_is_refused_by_every_model(model: type[Model]) -> None:
    for sample in ("array", "string", "number", "boolean", "null"):
        with pytest.raises(InvalidPayload) as raised:
            parse_request(model, json.dumps(SAMPLES[sample]))
        assert raised.value.problems == ["Input should be an object"], sample


@pytest.mark.parametrize("currency", [{}, ["EUR"], 7, None])
def test_a_currency_of_the_wrong_type_is_a_problem_not_a_type_error(currency: Any) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_request(OrderRequest, json.dumps({**ORDER, "currency": currency}))
    assert raised.value.problems == ["currency: Input should be 'EUR', 'GBP' or 'USD'"]


def test_prices_are_bounded_so_every_total_fits_an_interoperable_integer() -> None:
    line = {"sku": "SKU-1", "quantity": MAX_QUANTITY, "unit_price_cents": MAX_UNIT_PRICE_CENTS}
    lines = [{**line, "sku": f"SKU-{n}"} for n in range(MAX_LINES)]
    request = parse_request(OrderRequest, json.dumps({**ORDER, "lines": lines}))
    assert request.order("ref").total_cents < 2**53
    too_much = {**ORDER, "lines": [{**line, "unit_price_cents": MAX_UNIT_PRICE_CENTS + 1}]}
    with pytest.raises(InvalidPayload) as raised:
        parse_request(OrderRequest, json.dumps(too_much))
    assert [pointer(p) for p in raised.value.problems] == ["#/lines/0/unit_price_cents"]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("#/order_id", "o-1\n"),
        ("#/order_id", "o-1\r\n"),
        ("#/lines/0/sku", "SKU-1\n"),
        ("#/customer/address", "x" * (MAX_CUSTOMER_FIELD + 1)),
        ("#/customer/email", ""),
        ("#/customer/email", " "),
        ("#/customer/name", " \t\x1c\x85\ufeff"),
        ("#/customer/email", "a@" + "x" * MAX_CUSTOMER_FIELD),
    ],
)
def test_ids_with_a_trailing_line_break_and_out_of_bounds_texts_are_refused(
    where: str, value: str
) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_request(OrderRequest, json.dumps(set_at(ORDER, where, value)))
    assert [pointer(p) for p in raised.value.problems] == [where]


def test_a_customer_ref_with_a_trailing_line_break_is_refused() -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_queued_order(json.dumps({**MESSAGE, "customer_ref": REF + "\n"}).encode(), None)
    assert [pointer(p) for p in raised.value.problems] == ["#/customer_ref"]


def test_a_cancel_body_names_its_reason_and_refuses_other_members() -> None:
    assert parse_request(CancelRequest, b"{}").effective_reason == "cancelled on request"
    long = parse_request(CancelRequest, json.dumps({"reason": " " + "x" * 500}))
    assert long.effective_reason == "x" * 200
    with pytest.raises(InvalidPayload) as raised:
        parse_request(CancelRequest, b'{"reason": "r", "other": 1}')
    assert raised.value.problems == ["other: Extra inputs are not permitted"]


def test_an_approval_without_a_token_is_read_so_that_it_can_be_answered_401() -> None:
    assert parse_request(ApprovalRequest, b'{"approved": false}').token is None


@pytest.mark.parametrize("token", ["v1.é.abc", "v1.abc.é", "é", "v1.\x00.x", "v1.\ud800.x"])
def test_a_token_that_is_not_ascii_is_invalid_not_an_encoding_error(token: str) -> None:
    with pytest.raises(InvalidApprovalToken):
        verify(token, "o-1", datetime.now(UTC), KEY)
    genuine = issue("o-1", "approver-1", datetime.now(UTC) + timedelta(hours=1), KEY)
    assert verify(genuine, "o-1", datetime.now(UTC), KEY) == "approver-1"


# -- raw bodies, the correlation header and queue messages -------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "the body is not JSON: EOF while parsing a value at line 1 column 0"),
        (b"{secret", "the body is not JSON: key must be a string at line 1 column 2"),
        (b"\xffsecret", "the body is not JSON: "),
        (b"[" * 1500 + b"]" * 1500, "the body is not JSON: recursion limit exceeded"),
        (b'{"secret": "\\ud800"}', "the body is not JSON: "),
    ],
)
def test_a_body_that_is_not_json_is_refused_without_quoting_it(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_request(OrderRequest, raw)
    [found] = raised.value.problems
    assert found.startswith(problem) and "secret" not in found


def request(headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/orders", headers=headers, body=b"")


def test_a_correlation_header_is_taken_new_or_refused() -> None:
    assert correlation_id(request({"x-correlation-id": "checkout-42"})) == "checkout-42"
    assert correlation_id(request({"X-Correlation-Id": "a.b:c_d-1"})) == "a.b:c_d-1"
    fresh = correlation_id(request())
    assert len(fresh) == 32 and fresh != correlation_id(request())
    for given in ("", "has space", "x" * 129, "semi;colon", "tab\there", "é"):
        with pytest.raises(InvalidCorrelationId) as raised:
            correlation_id(request({"x-correlation-id": given}))
        assert str(raised.value).startswith("x-correlation-id: ")
        assert not given or given not in str(raised.value)


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
        (b"[" * 1500 + b"]" * 1500, "the body is not JSON: recursion limit exceeded"),
        (b'{"order_id": NaN}', "order_id: Input should be a valid string"),
        (b"\xff", "the body is not JSON: "),
        (json.dumps({**MESSAGE, "currency": {}}).encode(), "currency: Input should be"),
        (json.dumps(["order"]).encode(), "Input should be an object"),
    ],
)
def test_a_message_body_of_any_shape_is_an_invalid_order(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_queued_order(body, None)
    assert reason in str(raised.value)
