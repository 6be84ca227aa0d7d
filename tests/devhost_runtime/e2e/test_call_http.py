"""call_http on devhost: the built-in HTTP activity against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import DevHostProcess

APP = Path(__file__).resolve().parents[2] / "apps" / "durable_http"
HTTP_ACTIVITY = "BuiltIn::HttpActivity"
TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED, TIMER_CREATED = 4, 5, 6, 10


class EchoServer:
    """A loopback HTTP server that echoes requests and runs one 202-then-200 job."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._polls = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                seen = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
                server.requests.append(seen)
                if self.path == "/jobs":
                    self._send(202, {"status": "accepted"}, location="/jobs/1")
                elif self.path == "/jobs/1":
                    server._polls += 1
                    if server._polls < 2:
                        self._send(202, {"status": "running"}, location="/jobs/1")
                    else:
                        self._send(200, {"status": "done"})
                else:
                    self._send(200, seen)

            def _send(self, status: int, payload: Any, location: str | None = None) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Server", "echo")
                self.send_header("Set-Cookie", "a=1")
                self.send_header("Set-Cookie", "b=2")
                if location is not None:
                    self.send_header("Location", server.url + location)
                    self.send_header("Retry-After", "5")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                """Quiet: tests read `requests`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[EchoServer]:
    with EchoServer() as running:
        yield running


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    state = tmp_path_factory.mktemp("call-http-state")
    # The token-source refusal must not depend on the caller's environment.
    with DevHostProcess(
        APP, state_dir=state, virtual_time=True, env={"DEVHOST_CALL_HTTP_USE_AZURE_IDENTITY": ""}
    ) as running:
        yield running


def scheduled(raw: list[dict[str, Any]]) -> list[tuple[int, int, str | None]]:
    return [
        (e["EventType"], e["EventId"], e.get("Name"))
        for e in raw
        if e["EventType"] in (TASK_SCHEDULED, TIMER_CREATED)
    ]


def test_get_sends_headers_and_returns_the_extension_response_shape(
    host: DevHostProcess, server: EchoServer
) -> None:
    status = host.run_orchestration(
        "http_get", {"url": server.url + "/hello?x=1", "headers": {"X-Trace": "abc"}}
    )
    assert status["runtimeStatus"] == "Completed", status
    response = status["output"]
    assert set(response) == {"statusCode", "headers", "content"}
    assert response["statusCode"] == 200
    # Response headers only: .NET keeps Content-Type and Content-Length on the content, and
    # the extension does not copy those. A repeated header becomes a list.
    assert response["headers"]["X-Server"] == "echo"
    assert response["headers"]["Set-Cookie"] == ["a=1", "b=2"]
    assert "Content-Type" not in response["headers"]
    assert "Content-Length" not in response["headers"]
    seen = json.loads(response["content"])
    assert seen["method"] == "GET" and seen["path"] == "/hello?x=1"
    assert seen["headers"]["X-Trace"] == "abc"
    assert seen["body"] == ""

    raw = host.raw_history(status["instanceId"])
    assert scheduled(raw) == [(TASK_SCHEDULED, 0, HTTP_ACTIVITY)]
    task = next(e for e in raw if e["EventType"] == TASK_SCHEDULED)
    assert task["Input"] is None  # storeInputsInOrchestrationHistory is off
    completed = next(e for e in raw if e["EventType"] == TASK_COMPLETED)
    assert completed["TaskScheduledId"] == 0
    assert json.loads(completed["Result"]) == response
    assert completed["Result"].startswith('{"statusCode":200,"headers":{')

    folded = [e for e in status["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert [e["FunctionName"] for e in folded] == [HTTP_ACTIVITY]


def test_post_sends_json_content_with_the_given_content_type(
    host: DevHostProcess, server: EchoServer
) -> None:
    status = host.run_orchestration(
        "http_post",
        {
            "url": server.url + "/orders",
            "content": {"sku": "A-1", "qty": 2},
            "headers": {"Content-Type": "application/json"},
        },
    )
    assert status["runtimeStatus"] == "Completed", status
    seen = json.loads(status["output"]["content"])
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == {"sku": "A-1", "qty": 2}
    assert seen["headers"]["Content-Type"] == "application/json"


def test_post_without_content_type_is_text_plain(host: DevHostProcess, server: EchoServer) -> None:
    status = host.run_orchestration(
        "http_post", {"url": server.url + "/notes", "content": "plain words", "raw": True}
    )
    seen = json.loads(status["output"]["content"])
    assert seen["body"] == "plain words"
    assert seen["headers"]["Content-Type"] == "text/plain"


def test_a_202_is_returned_to_the_orchestrator_which_polls_the_location(
    host: DevHostProcess, server: EchoServer
) -> None:
    before = len(server.requests)
    status = host.run_orchestration("http_poll", {"url": server.url + "/jobs"})
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    # No polling inside the activity: the SDK sees each 202 and its Location.
    assert output["statuses"] == [202, 202, 200]
    assert json.loads(output["final"]["content"]) == {"status": "done"}
    calls = [(r["method"], r["path"]) for r in server.requests[before:]]
    assert calls == [("POST", "/jobs"), ("GET", "/jobs/1"), ("GET", "/jobs/1")]
    raw = host.raw_history(status["instanceId"])
    assert scheduled(raw) == [
        (TASK_SCHEDULED, 0, HTTP_ACTIVITY),
        (TIMER_CREATED, 1, None),
        (TASK_SCHEDULED, 2, HTTP_ACTIVITY),
        (TIMER_CREATED, 3, None),
        (TASK_SCHEDULED, 4, HTTP_ACTIVITY),
    ]


def test_a_managed_identity_token_source_is_refused_without_sending(
    host: DevHostProcess, server: EchoServer
) -> None:
    before = len(server.requests)
    status = host.run_orchestration("http_with_token", {"url": server.url + "/secure"})
    assert status["runtimeStatus"] == "Completed", status
    error = status["output"]["error"]
    assert "managed identity token source" in error
    assert "'https://management.core.windows.net'" in error
    assert "only Azure provides" in error
    assert "DEVHOST_CALL_HTTP_USE_AZURE_IDENTITY=true" in error
    assert server.requests[before:] == []  # never sent unauthenticated
    raw = host.raw_history(status["instanceId"])
    failed = [e for e in raw if e["EventType"] == TASK_FAILED]
    assert [e["TaskScheduledId"] for e in failed] == [0]


def test_a_network_failure_is_an_exception_the_orchestrator_can_catch(
    host: DevHostProcess,
) -> None:
    port = closed_port()
    status = host.run_orchestration("http_unreachable", {"url": f"http://127.0.0.1:{port}/x"})
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["error"].startswith(f"Connection refused (127.0.0.1:{port})")
    assert "System.Net.Http.HttpRequestException" in status["output"]["error"]
    assert status["output"]["after"] == "echo after"
    raw = host.raw_history(status["instanceId"])
    assert scheduled(raw) == [(TASK_SCHEDULED, 0, HTTP_ACTIVITY), (TASK_SCHEDULED, 1, "echo")]
    failed = next(e for e in raw if e["EventType"] == TASK_FAILED)
    assert failed["Reason"] == f"Connection refused (127.0.0.1:{port})"


def test_an_uncaught_network_failure_fails_the_orchestration(host: DevHostProcess) -> None:
    port = closed_port()
    status = host.run_orchestration("http_uncaught", {"url": f"http://127.0.0.1:{port}/"})
    assert status["runtimeStatus"] == "Failed"
    assert f"Connection refused (127.0.0.1:{port})" in status["output"]


def test_an_invalid_uri_fails_the_call_with_a_clear_message(host: DevHostProcess) -> None:
    status = host.run_orchestration("http_uncaught", {"url": "not a url"})
    assert status["runtimeStatus"] == "Failed"
    assert "An invalid request URI was provided. Either the request URI must be" in status["output"]


def test_http_calls_fan_out_in_parallel(host: DevHostProcess, server: EchoServer) -> None:
    status = host.run_orchestration("http_fan_out", {"url": server.url + "/item", "count": 6})
    assert status["runtimeStatus"] == "Completed", status
    paths = [json.loads(content)["path"] for content in status["output"]]
    assert paths == [f"/item?n={n}" for n in range(6)]
    raw = host.raw_history(status["instanceId"])
    assert scheduled(raw) == [(TASK_SCHEDULED, n, HTTP_ACTIVITY) for n in range(6)]
