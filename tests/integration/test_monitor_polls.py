"""The `poll_monitor_status` activity against a real local status server, through the guard."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import azure.durable_functions as df
import pytest

from activities.monitor_polls import MAX_STATUS_BYTES, bp, poll_monitor_status
from adapters.outbound import OutboundClient
from domain.failures import FailureKind, PermanentFailure, TransientFailure, failure_kind
from domain.outbound import AllowList

DONE = {"pointer": "/status", "equals": "done"}
FAILED = {"pointer": "/status", "equals": "failed"}


class StatusServer:
    """Answers GET <path> with the (status, body, headers) set for it; records the Accept header."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.accepts: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.accepts.append(self.headers.get("Accept"))
                status, body, headers = server.answers.get(self.path, (404, b"{}", {}))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, status: int, document: Any, **headers: str) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.answers[path] = (status, body, headers)


@pytest.fixture
def status_server() -> Iterator[StatusServer]:
    server = StatusServer()
    server._thread.start()
    try:
        yield server
    finally:
        server._httpd.shutdown()
        server._httpd.server_close()
        server._thread.join(timeout=5)


def guard(server: StatusServer) -> OutboundClient:
    allowed = AllowList.parse([f"127.0.0.1:{server.port}"])
    return OutboundClient(allowed, read_timeout=2, max_response_bytes=MAX_STATUS_BYTES)


def request(url: str, **fields: Any) -> dict[str, Any]:
    return {"url": url, "condition": DONE, "monitor_id": "m-1", "poll": 1, **fields}


def test_the_condition_is_tested_on_the_json_answer(status_server: StatusServer) -> None:
    status_server.answer("/op", 200, {"status": "running"})
    outcome = poll_monitor_status(
        request(status_server.url("/op"), failure_condition=FAILED), guard(status_server)
    )
    assert outcome == {"http_status": 200, "done": False, "failed": False, "redirects": 0}
    status_server.answer("/op", 200, {"status": "done"})
    outcome = poll_monitor_status(request(status_server.url("/op")), guard(status_server))
    assert outcome["done"] is True
    status_server.answer("/op", 200, {"status": "failed"})
    outcome = poll_monitor_status(
        request(status_server.url("/op"), failure_condition=FAILED), guard(status_server)
    )
    assert (outcome["done"], outcome["failed"]) == (False, True)
    assert status_server.accepts[-1] == "application/json"


def test_a_moved_status_url_is_followed(status_server: StatusServer) -> None:
    status_server.answer("/old", 301, b"", Location="/new")
    status_server.answer("/new", 200, {"status": "done"})
    outcome = poll_monitor_status(request(status_server.url("/old")), guard(status_server))
    assert (outcome["done"], outcome["redirects"]) == (True, 1)


@pytest.mark.parametrize(
    ("status", "document", "kind", "reason"),
    [
        (503, {"error": "busy"}, TransientFailure, "answered 503"),
        (429, {}, TransientFailure, "answered 429"),
        (404, {}, PermanentFailure, "answered 404"),
        (401, {}, PermanentFailure, "answered 401"),
        (200, b"<html>maintenance</html>", PermanentFailure, "without a JSON document"),
        (200, b"[" * 60000, PermanentFailure, "without a JSON document"),
        (200, b"x" * (MAX_STATUS_BYTES + 1), PermanentFailure, "larger than 65536 bytes"),
    ],
)
def test_failed_polls_say_whether_the_next_poll_may_help(
    status_server: StatusServer, status: int, document: Any, kind: type, reason: str
) -> None:
    status_server.answer("/op", status, document)
    with pytest.raises(kind) as caught:
        poll_monitor_status(request(status_server.url("/op")), guard(status_server))
    assert reason in caught.value.reason
    assert "/op" not in caught.value.reason  # the path may hold a token: origins only
    expected = FailureKind.TRANSIENT if kind is TransientFailure else FailureKind.PERMANENT
    assert failure_kind(Exception(str(caught.value))) is expected


def test_a_url_outside_the_allow_list_is_refused(status_server: StatusServer) -> None:
    with pytest.raises(PermanentFailure, match="invalid status URL"):
        poll_monitor_status(
            request(f"http://127.0.0.1:{status_server.port + 1}/op"), guard(status_server)
        )
    with pytest.raises(PermanentFailure, match="invalid poll_monitor_status input"):
        poll_monitor_status({"url": status_server.url("/op")}, guard(status_server))


def test_poll_monitor_status_is_an_activity_with_a_payload_input() -> None:
    app = df.DFApp()
    app.register_functions(bp)
    functions = {
        fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]
        for fn in app.get_functions()
    }
    assert functions == {
        "poll_monitor_status": [{"type": "activityTrigger", "direction": "IN", "name": "payload"}]
    }
