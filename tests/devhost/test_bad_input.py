"""No 500 for any input: wrong JSON types, deep nesting, odd bytes and bad ids, over HTTP and queue.

The app at the repository root runs on devhost with Azurite and the Service Bus stand-in. Every
HTTP answer here must be a 4xx problem (never a 500 with an empty body), and every malformed
order message must be recorded in `rejectedmessages` and completed, never dead-lettered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure.storage.queue import QueueClient

from adapters.factory import build_rejected_messages
from adapters.payments import SIMULATED
from adapters.rejected_messages import RejectedMessage
from app_config import StorageConnection
from devhost.azurite import Azurite
from devhost.servicebus.client import peek_dead_letters, send_message
from devhost.servicebus.names import active_queue_name
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until

EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
SIGNING_KEY = "bad-input-test-approval-signing-key-0123456789"
CUSTOMER = {"name": "Bad Input", "email": "bad-input@example.invalid", "address": "1 Odd Row"}
# 3 KB of JSON nested 1,500 levels deep: the JSON decoder's recursion limit is 1,000.
DEEP = "[" * 1500 + "]" * 1500
PROBLEM_JSON = "application/problem+json"


@dataclass
class App:
    host: DevHostProcess
    env: dict[str, str]
    storage: str

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        response = self.host.http.post(self.host.url(path), data=data, timeout=30, **kwargs)
        assert response.status_code != 500, f"POST {path} answered 500: {self.host.logs()[-2000:]}"
        return response

    def get(self, path: str) -> requests.Response:
        response = self.host.http.get(self.host.url(path), timeout=30)
        assert response.status_code != 500, f"GET {path} answered 500: {self.host.logs()[-2000:]}"
        return response

    def send(self, body: bytes, **properties: Any) -> str:
        properties.setdefault("message_id", uuid.uuid4().hex)
        sent = send_message(
            "orders",
            body,
            connection="ServiceBusConnection",
            app_dir=PROJECT_ROOT,
            environ=self.env,
            **properties,
        )
        assert sent.accepted
        return str(sent.message_id)

    def queued(self) -> int:
        """Messages on `orders` not yet completed or dead-lettered (locked ones included)."""
        queue = QueueClient.from_connection_string(self.storage, active_queue_name("orders"))
        return int(queue.get_queue_properties().approximate_message_count or 0)

    def dead_letters(self) -> list[str]:
        letters, _ = peek_dead_letters(
            "orders", connection="ServiceBusConnection", app_dir=PROJECT_ROOT, environ=self.env
        )
        return [str(letter.message_id) for letter in letters]

    def rejected(self, message_id: str) -> list[RejectedMessage]:
        connection = StorageConnection(connection_string=self.storage)
        store = build_rejected_messages(connection, "rejectedmessages")
        return [row for row in store.for_queue("orders") if row.message_id == message_id]


@pytest.fixture(scope="module")
def app(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    state = tmp_path_factory.mktemp("bad-input")
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "APPROVAL_SIGNING_KEY": SIGNING_KEY,
        "ServiceBusConnection": EMULATOR,
    }
    with DevHostProcess(PROJECT_ROOT, state_dir=state, virtual_time=True, env=env) as host:
        yield App(host, env, azurite.connection_string)


def order(**fields: Any) -> dict[str, Any]:
    body = {
        "order_id": f"bad-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 2_500}],
        "customer": CUSTOMER,
    }
    return {**body, **fields}


def pointers(response: requests.Response) -> set[str | None]:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    return {error.get("pointer") for error in response.json()["errors"]}


ORDER_STARTS = ("/api/orders", "/api/jobs/order")

# -- wrong JSON types -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ORDER_STARTS)
@pytest.mark.parametrize("currency", [{}, ["EUR"], {"EUR": 1}])
def test_a_currency_of_the_wrong_type_is_a_field_problem(
    app: App, path: str, currency: Any
) -> None:
    body = order(currency=currency)
    response = app.post(path, body)
    assert pointers(response) == {"#/currency"}
    assert 'EUR": 1' not in response.text
    assert app.get(f"/api/orders/{body['order_id']}").status_code == 404


# One value of each JSON type (and an integer no field takes); a field gets every other type.
SAMPLES: dict[str, Any] = {
    "object": {"k": "v"},
    "array": ["x"],
    "string": "x",
    "number": 1.5,
    "boolean": True,
    "null": None,
    "huge": 10**30,
}
# field pointer -> (its JSON type, whether it may be left out, how to put a value there)
ORDER_FIELDS: dict[str, tuple[str, bool, Callable[[dict[str, Any], Any], None]]] = {
    "#/order_id": ("string", False, lambda b, v: b.update(order_id=v)),
    "#/currency": ("string", False, lambda b, v: b.update(currency=v)),
    "#/lines": ("array", False, lambda b, v: b.update(lines=v)),
    "#/lines/0": ("object", False, lambda b, v: b["lines"].__setitem__(0, v)),
    "#/lines/0/sku": ("string", False, lambda b, v: b["lines"][0].update(sku=v)),
    "#/lines/0/quantity": ("integer", False, lambda b, v: b["lines"][0].update(quantity=v)),
    "#/lines/0/unit_price_cents": (
        "integer",
        False,
        lambda b, v: b["lines"][0].update(unit_price_cents=v),
    ),
    "#/express": ("boolean", True, lambda b, v: b.update(express=v)),
    "#/customer": ("object", False, lambda b, v: b.update(customer=v)),
    "#/customer/name": ("string", False, lambda b, v: b.update(customer={**CUSTOMER, "name": v})),
    "#/customer/email": ("string", False, lambda b, v: b.update(customer={**CUSTOMER, "email": v})),
    "#/customer/address": (
        "string",
        True,
        lambda b, v: b.update(customer={**CUSTOMER, "address": v}),
    ),
    "#/callback_url": ("string", True, lambda b, v: b.update(callback_url=v)),
}


@pytest.mark.parametrize("path", ORDER_STARTS)
@pytest.mark.parametrize("field", sorted(ORDER_FIELDS))
def test_any_wrong_json_type_in_an_order_field_is_a_problem_for_that_field(
    app: App, path: str, field: str
) -> None:
    kind, optional, put = ORDER_FIELDS[field]
    for sample, value in SAMPLES.items():
        if sample == kind or (sample == "null" and optional):
            continue
        body = order()
        put(body, value)
        response = app.post(path, body)
        assert field in pointers(response), (field, sample)
        assert str(10**30) not in response.text


def test_a_body_that_is_not_an_object_is_a_problem_everywhere(app: App) -> None:
    for value in ([], "order", 1, None, True):
        for path in (*ORDER_STARTS, "/api/monitors", "/api/jobs/thumbnail"):
            response = app.post(path, value)
            assert response.status_code == 400, (path, value)
            assert response.headers["Content-Type"].startswith(PROBLEM_JSON)


# -- bodies no route may read naively ---------------------------------------------------------

BODY_ROUTES = (
    "/api/orders",
    "/api/jobs/order",
    "/api/jobs/monitor",
    "/api/jobs/thumbnail",
    "/api/jobs/nightly-report",
    "/api/monitors",
    "/api/orders/never-seen/approval",
    "/api/orders/never-seen/cancel",
    "/api/jobs/order-never-seen/cancel",
    "/api/jobs/monitor-never-seen/cancel",
)


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_deeply_nested_body_is_a_400_problem(app: App, path: str) -> None:
    response = app.post(path, DEEP)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert [e["detail"].split(":")[0] for e in problem["errors"]] == ["the body is not JSON"]
    assert "recursion limit exceeded" in problem["errors"][0]["detail"]


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{}",  # not UTF-8
        b'{"a": NaN}',  # not JSON (Python's decoder takes it)
        b'{"a": 1e400}',  # overflows a double
        b'{"a": "\\ud800"}',  # an unpaired surrogate: not Unicode text
        b"{" * 40 + b"}" * 40,  # nested, and not even JSON
    ],
    ids=["not-utf8", "nan", "huge-float", "lone-surrogate", "deep-objects"],
)
def test_a_body_that_is_not_json_is_a_400_problem(app: App, path: str, raw: bytes) -> None:
    response = app.post(path, raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)


def test_personal_data_that_is_not_unicode_text_is_refused_before_the_claim_check(
    app: App,
) -> None:
    body = json.dumps(order()).replace('"Bad Input"', '"Bad \\udc80 Input"')
    response = app.post("/api/orders", body)
    assert response.status_code == 400
    assert "Bad" not in response.text


def test_a_huge_price_is_a_field_problem_not_a_failed_workflow(app: App) -> None:
    body = order(lines=[{"sku": "SKU-1", "quantity": 1000, "unit_price_cents": 10**19}])
    assert pointers(app.post("/api/orders", body)) == {"#/lines/0/unit_price_cents"}


@pytest.mark.parametrize("order_id", ["abc\n", "abc\r\n", "\nabc"])
def test_an_order_id_with_a_line_break_is_refused(app: App, order_id: str) -> None:
    response = app.post("/api/orders", order(order_id=order_id))
    assert pointers(response) == {"#/order_id"}


@pytest.mark.parametrize("path", ["/api/orders/abc%0A", "/api/jobs/order-abc%0A"])
def test_an_id_with_a_line_break_in_the_path_is_404(app: App, path: str) -> None:
    assert app.get(path).status_code == 404
    assert app.post(f"{path}/cancel", b"").status_code == 404


def test_a_report_day_is_never_echoed(app: App) -> None:
    for day in ("2020-01-01\n", "\uff12\uff10\uff12\uff10-01-01", "2020-02-30"):
        response = app.post("/api/jobs/nightly-report", {"day": day})
        assert pointers(response) == {"#/day"}
        assert day.strip() not in response.text


# -- cancel and approval bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/orders/never-seen/cancel", "/api/jobs/order-never-seen/cancel"]
)
def test_a_cancel_body_of_the_wrong_shape_is_a_400_problem(app: App, path: str) -> None:
    assert pointers(app.post(path, {"reason": 5})) == {"#/reason"}
    assert pointers(app.post(path, {"reason": {"text": "x"}})) == {"#/reason"}
    assert pointers(app.post(path, ["changed my mind"])) == {None}
    assert app.post(path, b"not json").status_code == 400
    # The body stays optional: no body, or an empty object, is a cancel without a reason.
    assert app.post(path, b"").status_code == 404
    assert app.post(path, {}).status_code == 404


def test_an_approval_body_of_the_wrong_shape_names_its_fields(app: App) -> None:
    path = "/api/orders/never-seen/approval"
    assert pointers(app.post(path, {"approved": "yes", "token": "t"})) == {"#/approved"}
    assert pointers(app.post(path, {"approved": True, "token": 5})) == {"#/token"}
    assert pointers(app.post(path, {"approved": True, "token": "t", "reason": []})) == {"#/reason"}
    assert app.post(path, [True]).status_code == 400
    assert app.post(path, {"approved": True}).status_code == 401  # no token: still 401


@pytest.mark.parametrize("token", ["v1.é.abc", "v1.abc.é", "é", "v1.\u0000.x"])
def test_an_approval_token_that_is_not_ascii_is_401(app: App, token: str) -> None:
    response = app.post("/api/orders/never-seen/approval", {"approved": True, "token": token})
    assert response.status_code == 401
    assert token not in response.text


def test_a_line_break_in_the_approval_path_cannot_forge_a_log_line(app: App) -> None:
    """The order id in the URL is logged when a token is refused; a decoded CR/LF in it must not
    start a line of its own (log injection)."""
    forged = "Approval decision raised for order FORGED"
    response = app.post(
        "/api/orders/x%0D%0A" + forged.replace(" ", "%20") + "/approval",
        {"approved": True, "token": "v1.not.valid"},
    )
    assert response.status_code == 401
    lines = app.host.logs().splitlines()
    assert any("refused" in line and "FORGED" in line for line in lines)
    assert not [line for line in lines if line.startswith(forged)]


# -- the thumbnail job's blob name ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../x.jpg",
        "a/../../x.jpg",
        "./x.jpg",
        "a/./x.jpg",
        "a/..",
        "/x.jpg",
        "a//x.jpg",
        "a/",
        "x.jpg.",
        "a\\..\\x.jpg",
        "x\u0000.jpg",
        "x\u0081.jpg",
        "x\ue000.jpg",
        "x" * 1001,
        "/".join(["a"] * 255),
    ],
)
def test_an_invalid_blob_name_is_refused_before_storage(app: App, name: str) -> None:
    response = app.post("/api/jobs/thumbnail", {"blob": name})
    assert pointers(response) == {"#/blob"}
    assert response.status_code == 400  # refused before storage was asked (no upload: 404)


@pytest.mark.parametrize("name", ["missing/{}.jpg", "a.b/..c/{} x.jpg", "é/{}.webp"])
def test_a_valid_name_passes_the_rules_and_reaches_storage(app: App, name: str) -> None:
    response = app.post("/api/jobs/thumbnail", {"blob": name.format(uuid.uuid4().hex)})
    assert response.status_code == 404  # storage was asked, and has no such upload
    assert "no upload of this name" in response.json()["detail"]


# -- the correlation id header ----------------------------------------------------------------


@pytest.mark.parametrize("path", [*ORDER_STARTS, "/api/monitors"])
@pytest.mark.parametrize("given", ["has space", "x" * 129, "semi;colon", "", "new\tline"])
def test_a_correlation_id_outside_its_pattern_is_refused(app: App, path: str, given: str) -> None:
    body = order() if path in ORDER_STARTS else {}
    response = app.post(path, body, headers={"x-correlation-id": given})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    assert [e["detail"].split(":")[0] for e in problem["errors"]] == ["x-correlation-id"]
    assert given not in response.text or not given
    if path in ORDER_STARTS:
        assert app.get(f"/api/orders/{body['order_id']}").status_code == 404


# -- the orders queue: wrong shapes are recorded and completed, never dead-lettered -------------


@pytest.mark.parametrize(
    ("body", "properties", "reason"),
    [
        (json.dumps({"currency": {}}).encode(), {}, "currency: Input should be"),
        (json.dumps({"currency": ["EUR"], "lines": "x"}).encode(), {}, "currency: Input should"),
        (DEEP.encode(), {}, "the body is not JSON: recursion limit exceeded"),
        (b'{"order_id": "o-1", "currency": NaN}', {}, "currency: Input should be"),
        (b"[]", {}, "Input should be an object"),
        (
            json.dumps({"order_id": "o-1"}).encode(),
            {"correlation_id": "not a valid id"},
            "CorrelationId: ",
        ),
    ],
    ids=["currency-object", "currency-list", "deep", "nan", "array", "correlation-id"],
)
def test_a_wrong_shape_message_is_recorded_and_completed_not_dead_lettered(
    app: App, body: bytes, properties: dict[str, Any], reason: str
) -> None:
    message_id = app.send(body, **properties)
    # Completed (or dead-lettered): gone from the queue, locked or not.
    wait_until(lambda: app.queued() == 0, timeout=60)
    assert message_id not in app.dead_letters()
    (row,) = app.rejected(message_id)
    assert reason in row.reason
    assert row.delivery_count == 1
    assert row.body_bytes == len(body)
    assert f"Message '{message_id}' failed" not in app.host.logs()
