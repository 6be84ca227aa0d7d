"""The job API and the rest of the app's HTTP surface on devhost, held to api/openapi.json.

The app at the repository root runs on devhost with Azurite, real activities and virtual time.
Every response any test here receives goes through `Contract.check`: its path, method and
status code must be documented, and its body must validate against the documented schema
(with $refs resolved), so an undocumented status code or a drifting body fails the test.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from adapters.factory import build_order_adapters
from adapters.payments import SIMULATED, LedgerPaymentProvider
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, WebhookReceiver, wait_until
from domain.approval_tokens import issue
from domain.payments import charge_key
from domain.webhooks import verify

DOCUMENT = PROJECT_ROOT / "api" / "openapi.json"
DOC_URI = "urn:app:openapi.json"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
FINISHED = {"Completed", "Failed", "Terminated", "Canceled"}
THRESHOLD = 100_000
SIGNING_KEY = "job-api-test-approval-signing-key-0123456789"
WEBHOOK_KEY = "job-api-test-webhook-signing-key-0123456789"
CUSTOMER = {"name": "Job Canary", "email": "job-canary@example.invalid", "address": "3 Job Rd"}


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


class Contract:
    """Checks live responses against the OpenAPI document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.server = urlsplit(doc["servers"][0]["url"]).path.rstrip("/")
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)
        self.paths = [
            (re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in doc["paths"]
        ]

    def follow(self, pointer: str) -> tuple[str, dict[str, Any]]:
        """The object at `pointer` and its own pointer, after following any $ref."""
        node: Any = self.doc
        for part in pointer.removeprefix("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        if "$ref" in node:
            return self.follow(node["$ref"].removeprefix("#"))
        return pointer, node

    def check(self, response: requests.Response) -> None:
        request = response.request
        method = str(request.method).lower()
        path = urlsplit(str(request.url)).path
        assert path.startswith(self.server + "/"), f"{path} is outside the API"
        relative = path.removeprefix(self.server)
        documented = [p for pattern, p in self.paths if pattern.match(relative)]
        assert documented, f"{method.upper()} {path}: no documented path"
        # Concrete paths match before templated ones (OpenAPI, "Paths Object"), for the methods
        # they document: POST /jobs/order is that type's start, GET /jobs/{job} a status.
        documented.sort(key=lambda p: p.count("{"))
        template = next((p for p in documented if method in self.doc["paths"][p]), documented[0])
        assert method in METHODS & self.doc["paths"][template].keys(), (
            f"{method.upper()} {template} is not documented"
        )
        code = str(response.status_code)
        operation = f"/paths/{_pointer_part(template)}/{method}"
        responses = self.doc["paths"][template][method]["responses"]
        assert code in responses, (
            f"{method.upper()} {template} answered {code}, which is not documented: "
            f"{response.text[:500]}"
        )
        where, documented_response = self.follow(f"{operation}/responses/{code}")
        for name in documented_response.get("headers", {}):
            header_pointer, header = self.follow(f"{where}/headers/{_pointer_part(name)}")
            if header.get("required"):
                assert name in response.headers, f"{method.upper()} {template} {code}: {name}"
            if name in response.headers:
                self.validate(f"{header_pointer}/schema", response.headers[name])
        content = documented_response.get("content", {})
        if not content:
            assert response.content == b"", f"{method.upper()} {template} {code} has a body"
        else:
            media = response.headers.get("Content-Type", "").split(";")[0].strip()
            assert media in content, f"{method.upper()} {template} {code}: {media} undocumented"
            self.validate(f"{where}/content/{_pointer_part(media)}/schema", response.json())

    def validate(self, pointer: str, instance: Any) -> None:
        schema = {"$ref": f"{DOC_URI}#{pointer}"}
        Draft202012Validator(schema, registry=self.registry).validate(instance)


@dataclass
class Api:
    host: DevHostProcess
    contract: Contract
    storage: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        response = self.host.http.request(method, self.host.url(path), **kwargs)
        self.contract.check(response)
        return response

    def start(self, body: Any, job_type: str = "order", **kwargs: Any) -> requests.Response:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.call("POST", f"/api/jobs/{job_type}", data=data, **kwargs)

    def job(self, job_id: str) -> requests.Response:
        return self.call("GET", f"/api/jobs/{job_id}")

    def cancel(self, job_id: str, body: Any = None) -> requests.Response:
        return self.call("POST", f"/api/jobs/{job_id}/cancel", json=body)

    def finished(self, job_id: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            view = self.job(job_id).json()
            return view if view["runtime_status"] in FINISHED else None

        return wait_until(done)

    def at_step(self, job_id: str, step: str) -> dict[str, Any]:
        return wait_until(lambda: (view := self.job(job_id).json())["step"] == step and view)

    def new_order(self, price: int = 2_500, **extra: Any) -> dict[str, Any]:
        """An order for one unit of a SKU of its own, which has 10 units on the shelf."""
        sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
        connection = StorageConnection(connection_string=self.storage)
        build_order_adapters(
            connection, order_storage_names({}), payment_provider=SIMULATED
        ).stock.set_level(sku, 10)
        return {
            "order_id": f"job-{uuid.uuid4().hex[:12]}",
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": price}],
            "customer": CUSTOMER,
            **extra,
        }

    def charges(self, order_id: str) -> int:
        connection = StorageConnection(connection_string=self.storage)
        payments = build_order_adapters(
            connection, order_storage_names({}), payment_provider=SIMULATED
        ).payments
        assert isinstance(payments, LedgerPaymentProvider)
        return sum(1 for row in payments.entries(order_id) if row["RowKey"] == charge_key(order_id))


class StatusServer:
    """A monitored operation's status endpoint on a free loopback port (allow-listed by port).

    GET /flip/<n>/<key> answers {"status": "running"} until its n-th poll, then "done";
    GET /flaky/<n>/<key> answers 503 until its n-th poll, then "done"; GET /never/<key> is
    always running; GET /gone/<key> answers 404. Polls are counted per path.
    """

    def __init__(self) -> None:
        self.polls: dict[str, int] = {}
        lock, polls = threading.Lock(), self.polls

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    polls[self.path] = count = polls.get(self.path, 0) + 1
                parts = self.path.split("/")
                done = parts[1] in ("flip", "flaky") and count >= int(parts[2])
                body = json.dumps({"status": "done" if done else "running"}).encode()
                status = 200
                if parts[1] == "gone" or (parts[1] == "flaky" and not done):
                    status = 404 if parts[1] == "gone" else 503
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet: tests read `polls`."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> StatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def status_server() -> Iterator[StatusServer]:
    with StatusServer() as server:
        yield server


@pytest.fixture(scope="module")
def callbacks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("/monitor-hooks") as receiver:
        yield receiver


@pytest.fixture(scope="module")
def api(
    azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    status_server: StatusServer,
    callbacks: WebhookReceiver,
) -> Iterator[Api]:
    callback_origin = urlsplit(callbacks.url).netloc
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
        "APPROVAL_SIGNING_KEY": SIGNING_KEY,
        # Monitors: the status server and the callback receiver, by port, and nothing else.
        "OUTBOUND_ALLOWED_HOSTS": f"127.0.0.1:{status_server.port},{callback_origin}",
        "WEBHOOK_SIGNING_KEY": WEBHOOK_KEY,
    }
    state = tmp_path_factory.mktemp("job-api")
    contract = Contract(json.loads(DOCUMENT.read_text(encoding="utf-8")))
    with DevHostProcess(PROJECT_ROOT, state_dir=state, virtual_time=True, env=env) as host:
        yield Api(host, contract, azurite.connection_string)


@pytest.fixture
def paused(api: Api) -> Iterator[Api]:
    """Virtual time that stands still, so an order waits for its approval until told."""
    api.host.set_time(auto_advance=False)
    try:
        yield api
    finally:
        api.host.set_time(auto_advance=True)


def no_personal_data(*texts: str) -> bool:
    return not any(value in text for text in texts for value in CUSTOMER.values())


# -- POST /api/jobs/{type} and GET /api/jobs/{id} -------------------------------------------


def test_a_start_answers_202_with_the_apps_own_urls_then_the_result(api: Api) -> None:
    body = api.new_order()
    job_id = f"order-{body['order_id']}"
    # The caller's function key rides in the query string: it must not come back in any URL.
    started = api.start(
        body, params={"code": "caller-function-key"}, headers={"x-correlation-id": "corr-job-1"}
    )
    assert started.status_code == 202, started.text
    status_url = api.host.url(f"/api/jobs/{job_id}")
    assert started.headers["Location"] == status_url
    assert started.headers["Retry-After"]
    assert started.json() == {
        "id": job_id,
        "type": "order",
        "runtime_status": "Pending",
        "duplicate": False,
        "status_url": status_url,
        "cancel_url": f"{status_url}/cancel",
    }
    assert "caller-function-key" not in started.text + started.headers["Location"]
    assert "runtime/webhooks" not in started.text  # no management URLs, no system key

    view = api.finished(job_id)
    assert view["runtime_status"] == "Completed"
    assert (view["step"], view["progress"]) == ("completed", 100)
    assert view["result"]["status"] == "Completed"
    assert view["result"]["payment_id"] and view["result"]["tracking_id"]
    assert "cancel_url" not in view and "error" not in view
    response = api.job(job_id)
    assert response.headers["Cache-Control"] == "no-store"
    assert no_personal_data(started.text, response.text)
    assert "input" not in response.json() and "history" not in response.text.lower()
    started_with = json.loads(api.host.status(job_id)["input"])
    assert started_with["correlation_id"] == "corr-job-1"


def test_a_repeated_start_returns_the_finished_job_and_charges_once(api: Api) -> None:
    body = api.new_order()
    job_id = f"order-{body['order_id']}"
    assert api.start(body).status_code == 202
    first = api.finished(job_id)
    again = api.start({**body, "customer": {**CUSTOMER, "name": "Someone Else"}})
    assert again.status_code == 200
    assert again.headers["Location"] == api.host.url(f"/api/jobs/{job_id}")
    assert again.json() == first
    assert api.charges(body["order_id"]) == 1
    # The order endpoints see the same run: POST /api/orders is a duplicate too.
    assert api.call("POST", "/api/orders", json=body).status_code == 200


def test_a_running_job_shows_its_step_and_is_cancelled_with_compensation(paused: Api) -> None:
    body = paused.new_order(price=THRESHOLD * 2)  # waits for approval
    job_id = f"order-{body['order_id']}"
    assert paused.start(body).status_code == 202
    waiting = paused.at_step(job_id, "awaiting_approval")
    assert waiting["runtime_status"] == "Running"
    assert waiting["progress"] == 55
    assert waiting["cancel_url"] == paused.host.url(f"/api/jobs/{job_id}/cancel")
    assert "result" not in waiting and "error" not in waiting

    again = paused.start(body)
    assert again.status_code == 202
    assert (again.json()["duplicate"], again.json()["runtime_status"]) == (True, "Running")

    cancelled = paused.cancel(job_id, {"reason": "changed my mind"})
    assert cancelled.status_code == 202
    assert cancelled.headers["Location"] == paused.host.url(f"/api/jobs/{job_id}")
    assert cancelled.json()["message"] == "cancellation requested"
    paused.host.set_time(auto_advance=True)
    view = paused.finished(job_id)
    assert view["result"]["status"] == "Cancelled"
    assert view["result"]["reason"].startswith("changed my mind")
    assert view["step"] == "cancelled"
    assert paused.charges(body["order_id"]) == 1  # charged, then refunded by compensation

    late = paused.cancel(job_id)
    assert late.status_code == 409
    assert late.json()["type"] == "urn:problem-type:jobs:not-cancellable"
    # The order endpoint shares the rule.
    assert paused.call("POST", f"/api/orders/{body['order_id']}/cancel").status_code == 409


def test_a_body_that_is_not_json_is_a_400_problem(api: Api) -> None:
    response = api.start("{not json")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "urn:problem-type:jobs:invalid-request",
        "title": "Invalid job request",
        "status": 400,
        "detail": "The request has problems listed in errors.",
        "errors": [{"detail": "the body is not JSON: key must be a string at line 1 column 2"}],
    }


def test_an_invalid_order_lists_its_problems_and_starts_nothing(api: Api) -> None:
    body = api.new_order(currency="XXX")
    body["lines"][0]["quantity"] = 0
    body["customer"] = {"name": "Job Canary", "email": "no-at-sign"}
    response = api.start(body)
    assert response.status_code == 400
    pointers = {error.get("pointer") for error in response.json()["errors"]}
    assert {"#/currency", "#/lines/0/quantity", "#/customer/email"} <= pointers
    assert "no-at-sign" not in response.text and "Job Canary" not in response.text
    assert api.job(f"order-{body['order_id']}").status_code == 404

    by_reference = api.new_order()
    del by_reference["customer"]
    by_reference["customer_ref"] = "claim-someone-elses-data"
    refused = api.start(by_reference)
    assert refused.status_code == 400
    assert {e.get("pointer") for e in refused.json()["errors"]} == {"#/customer", "#/customer_ref"}


def test_an_unknown_type_is_a_404_problem(api: Api) -> None:
    for job_type in ("nightly-batch", "ORDER", "order-x"):
        response = api.start(api.new_order(), job_type=job_type)
        assert response.status_code == 404, job_type
        assert response.json()["type"] == "urn:problem-type:jobs:unknown-type"


@pytest.mark.parametrize("job_id", ["order-never-seen", "other-123", "order-bad%20id", "order-"])
def test_an_unknown_or_malformed_job_id_is_a_404_problem(api: Api, job_id: str) -> None:
    for response in (api.job(job_id), api.cancel(job_id)):
        assert response.status_code == 404
        assert response.json()["type"] == "urn:problem-type:jobs:not-found"


# -- the rest of the HTTP surface, against the same document ------------------------------


def test_the_openapi_document_is_served_anonymously(api: Api) -> None:
    response = api.call("GET", "/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(DOCUMENT.read_text(encoding="utf-8"))


def test_the_health_probe_answers_as_documented(api: Api) -> None:
    assert api.call("GET", "/api/health").status_code == 200


def test_the_order_endpoints_answer_as_documented(paused: Api) -> None:
    body = paused.new_order(price=THRESHOLD)
    oid = body["order_id"]
    assert paused.call("POST", "/api/orders", json=body).status_code == 202
    assert paused.call("POST", "/api/orders", data="{").status_code == 400
    assert paused.call("GET", "/api/orders/never-seen").status_code == 404
    assert paused.call("POST", "/api/orders/never-seen/cancel").status_code == 404
    wait_until(
        lambda: (
            (paused.call("GET", f"/api/orders/{oid}").json()["custom_status"] or {}).get("step")
            == "awaiting_approval"
        )
    )
    approval = f"/api/orders/{oid}/approval"
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = issue(oid, "approver@example.invalid", expires, SIGNING_KEY)
    other = issue("another-order", "approver@example.invalid", expires, SIGNING_KEY)
    assert paused.call("POST", approval, json={"token": token}).status_code == 400
    assert paused.call("POST", approval, json={"approved": True}).status_code == 401
    assert (
        paused.call("POST", approval, json={"approved": True, "token": "x.y.z"}).status_code == 401
    )
    assert paused.call("POST", approval, json={"approved": True, "token": other}).status_code == 403
    unknown = issue("never-seen", "approver@example.invalid", expires, SIGNING_KEY)
    answer = paused.call(
        "POST", "/api/orders/never-seen/approval", json={"approved": True, "token": unknown}
    )
    assert answer.status_code == 404
    assert paused.call("POST", approval, json={"approved": True, "token": token}).status_code == 202
    paused.host.set_time(auto_advance=True)
    view = paused.finished(f"order-{oid}")
    assert view["result"]["status"] == "Completed"
    assert paused.call("GET", f"/api/orders/{oid}").status_code == 200
    assert paused.call("POST", approval, json={"approved": True, "token": token}).status_code == 409
    assert paused.call("POST", f"/api/orders/{oid}/cancel").status_code == 409


def test_the_contract_refuses_an_undocumented_answer(api: Api) -> None:
    with pytest.raises(AssertionError, match="not documented"):
        api.call("PUT", "/api/jobs/order-x")
    with pytest.raises(AssertionError, match="no documented path"):
        api.call("GET", "/api/nowhere")


# -- monitors: POST /api/monitors, followed and cancelled through the job API -------------------

DONE = {"pointer": "/status", "equals": "done"}
MAX_MONITOR_HISTORY = 30  # events in one run's history, however many polls came before


def monitor_body(status_server: StatusServer, path: str, **fields: Any) -> dict[str, Any]:
    return {
        "monitor_id": f"mon-{uuid.uuid4().hex[:12]}",
        "status_url": status_server.url(path),
        "condition": DONE,
        "interval_seconds": 10,
        "backoff_factor": 2,
        "max_interval_seconds": 40,
        "expires_in_seconds": 3600,
        **fields,
    }


def polls_in_history(api: Api, job_id: str) -> tuple[int, int]:
    """(poll activities scheduled, events) in the instance's current history."""
    raw = api.host.raw_history(job_id)
    polls = sum(1 for e in raw if e["EventType"] == 4 and e.get("Name") == "poll_monitor_status")
    return polls, len(raw)


def test_a_monitor_completes_when_the_condition_holds_and_calls_back(
    api: Api, status_server: StatusServer, callbacks: WebhookReceiver
) -> None:
    key = uuid.uuid4().hex
    body = monitor_body(status_server, f"/flip/4/{key}", callback_url=callbacks.url)
    job_id = f"monitor-{body['monitor_id']}"
    started = api.call(
        "POST", "/api/monitors", json=body, params={"code": "k"}, headers={"x-correlation-id": key}
    )
    assert started.status_code == 202, started.text
    status_url = api.host.url(f"/api/jobs/{job_id}")
    assert started.headers["Location"] == status_url
    assert started.json() == {
        "id": job_id,
        "type": "monitor",
        "runtime_status": "Pending",
        "duplicate": False,
        "status_url": status_url,
        "cancel_url": f"{status_url}/cancel",
    }

    view = api.finished(job_id)
    assert view["runtime_status"] == "Completed"
    assert (view["step"], view["progress"]) == ("completed", 100)
    assert view["result"]["status"] == "completed"
    assert view["result"]["polls"] == 4
    assert status_server.polls[f"/flip/4/{key}"] == 4
    # Four polls, but each run continued as new: the last run's history holds one poll.
    polls, events = polls_in_history(api, job_id)
    assert polls == 1 and events <= MAX_MONITOR_HISTORY
    # The waits grew 10, 20, 40 s (virtual): the monitor ran 70 s of orchestration time.
    begun = datetime.fromisoformat(view["result"]["started_at"])
    ended = datetime.fromisoformat(view["result"]["ended_at"])
    assert (ended - begun).total_seconds() == pytest.approx(70, abs=2)

    deliveries = wait_until(
        lambda: [d for d in callbacks.deliveries if job_id in d.body.decode()] or None
    )
    (delivery,) = deliveries
    payload = verify(delivery.body, delivery.headers, WEBHOOK_KEY, now=time.time())
    event = payload["event"]
    assert (event["job_id"], event["job_type"], event["kind"]) == (job_id, "monitor", "completed")
    assert event["result"] == view["result"]
    assert event["correlation_id"] == key

    again = api.call("POST", "/api/monitors", json=body)
    assert again.status_code == 200
    assert again.json() == view


def test_a_monitor_that_never_sees_done_expires(api: Api, status_server: StatusServer) -> None:
    key = uuid.uuid4().hex
    body = monitor_body(status_server, f"/never/{key}", expires_in_seconds=100)
    job_id = f"monitor-{body['monitor_id']}"
    assert api.start(body, job_type="monitor").status_code == 202  # the job API's own start
    view = api.finished(job_id)
    assert view["runtime_status"] == "Completed"
    assert view["step"] == "expired"
    result = view["result"]
    assert result["status"] == "expired"
    assert result["reason"] == "the condition did not hold within 100 s"
    # Polls at 0, 10, 30, 70 and at the expiry (100 s): the last wait is cut short.
    assert result["polls"] == 5 == status_server.polls[f"/never/{key}"]
    polls, events = polls_in_history(api, job_id)
    assert polls == 1 and events <= MAX_MONITOR_HISTORY
    assert api.cancel(job_id).status_code == 409


def test_failed_polls_retry_when_transient_and_end_the_monitor_when_permanent(
    api: Api, status_server: StatusServer
) -> None:
    key = uuid.uuid4().hex
    flaky = monitor_body(status_server, f"/flaky/3/{key}")
    gone = monitor_body(status_server, f"/gone/{key}")
    for body in (flaky, gone):
        assert api.call("POST", "/api/monitors", json=body).status_code == 202
    recovered = api.finished(f"monitor-{flaky['monitor_id']}")["result"]
    assert (recovered["status"], recovered["polls"]) == ("completed", 3)
    failed = api.finished(f"monitor-{gone['monitor_id']}")
    assert failed["runtime_status"] == "Completed" and failed["step"] == "failed"
    assert failed["result"]["status"] == "failed"
    assert failed["result"]["polls"] == 1 == status_server.polls[f"/gone/{key}"]
    assert failed["result"]["reason"] == f"http://127.0.0.1:{status_server.port} answered 404"


def test_a_waiting_monitor_is_cancelled(paused: Api, status_server: StatusServer) -> None:
    key = uuid.uuid4().hex
    body = monitor_body(status_server, f"/never/{key}")
    job_id = f"monitor-{body['monitor_id']}"
    assert paused.call("POST", "/api/monitors", json=body).status_code == 202
    waiting = paused.at_step(job_id, "waiting")
    assert waiting["cancel_url"] == paused.host.url(f"/api/jobs/{job_id}/cancel")
    cancelled = paused.cancel(job_id, {"reason": "no longer needed"})
    assert cancelled.status_code == 202
    assert cancelled.json()["type"] == "monitor"
    view = paused.finished(job_id)
    assert view["result"]["status"] == "cancelled"
    assert view["result"]["reason"] == "no longer needed"
    assert view["result"]["polls"] == 1 == status_server.polls[f"/never/{key}"]
    assert paused.cancel(job_id).status_code == 409


def test_an_invalid_monitor_lists_its_problems_and_starts_nothing(
    api: Api, status_server: StatusServer
) -> None:
    bad_body = monitor_body(
        status_server,
        "/never/x",
        condition={"pointer": "status", "equals": "done"},
        interval_seconds=1,
        unknown="s3cret",
    )
    # The URLs are vetted against the allow-list setting once the body itself is valid.
    bad_urls = monitor_body(
        status_server,
        "/never/x",
        status_url="https://169.254.169.254/latest/meta-data/?token=s3cret",
        callback_url=f"http://127.0.0.1:{status_server.port + 1}/hook",
    )
    for body, expected in (
        (bad_body, {"#/condition/pointer", "#/interval_seconds", "#/unknown"}),
        (bad_urls, {"#/status_url", "#/callback_url"}),
    ):
        for path in ("/api/monitors", "/api/jobs/monitor"):
            response = api.call("POST", path, json=body)
            assert response.status_code == 400
            pointers = {error.get("pointer") for error in response.json()["errors"]}
            assert pointers == expected
            assert "s3cret" not in response.text and "127.0.0.1" not in response.text
        assert api.job(f"monitor-{body['monitor_id']}").status_code == 404
    assert api.call("POST", "/api/monitors", data="{").status_code == 400


def test_a_nightly_report_runs_as_a_job_once_per_day(api: Api) -> None:
    day = "2020-02-29"  # a day with no orders: the report is empty but real
    started = api.start({"day": day}, job_type="nightly-report")
    assert started.status_code == 202, started.text
    job_id = f"nightly-report-{day}"
    assert started.json()["id"] == job_id
    view = api.finished(job_id)
    assert view["runtime_status"] == "Completed"
    assert view["result"]["day"] == day and view["result"]["orders"] == 0
    again = api.start({"day": day}, job_type="nightly-report")
    assert again.status_code == 200 and again.json()["id"] == job_id  # a duplicate
    future = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    refused = api.start({"day": future}, job_type="nightly-report")
    assert refused.status_code == 400
    assert api.start({"day": "yesterday"}, job_type="nightly-report").status_code == 400
