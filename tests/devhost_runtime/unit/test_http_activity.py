"""The built-in HTTP activity's request and response shapes, token sources and the walk's ids."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.actions.CallHttpAction import CallHttpAction
from azure.durable_functions.models.DurableHttpRequest import DurableHttpRequest
from azure.durable_functions.models.utils.df_serialization import df_loads

from devhost.durable import http_activity
from devhost.durable.history import EventType, event
from devhost.durable.walk import (
    ActionWalk,
    FunctionCatalog,
    HistoryIndex,
    OrchestrationRejected,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
MANAGEMENT = {"kind": "AzureManagedIdentity", "resource": "https://management.core.windows.net"}


def sdk_action(**kwargs: Any) -> dict[str, Any]:
    """The CallHttp action exactly as azure-functions-durable serializes it."""
    request = DurableHttpRequest(
        kwargs.get("method", "GET"),
        kwargs.get("uri", "https://example.com/x"),
        kwargs.get("content"),
        kwargs.get("headers"),
        kwargs.get("token_source"),
    )
    return json.loads(json.dumps(CallHttpAction(request).to_json()))


# -- request --------------------------------------------------------------------------------


def test_scheduled_input_is_the_extensions_request_in_a_one_element_array() -> None:
    action = sdk_action(method="post", content='{"a": 1}', headers={"A": "b"})
    text = http_activity.scheduled_input(action["httpRequest"])
    assert json.loads(text) == [
        {
            "method": "POST",
            "uri": "https://example.com/x",
            "headers": {"A": "b"},
            "content": '{"a": 1}',
            "tokenSource": None,
            # The SDK leaves it out, and the extension then reads it as false: no polling.
            "asynchronousPatternEnabled": False,
            "retryOptions": None,
            "timeout": None,
        }
    ]
    assert text.startswith('[{"method":"POST","uri":')  # compact, as Newtonsoft writes it


def test_scheduled_input_keeps_the_token_source_and_unknown_methods() -> None:
    token = df.ManagedIdentityTokenSource("https://management.core.windows.net")
    action = sdk_action(method="purge", token_source=token)
    request = json.loads(http_activity.scheduled_input(action["httpRequest"]))[0]
    assert request["method"] == "purge"
    assert request["tokenSource"] == MANAGEMENT


@pytest.mark.parametrize(
    ("request_json", "message"),
    [
        (None, "no httpRequest object"),
        ({"method": "", "uri": "https://x"}, "method must be a non-empty string"),
        ({"method": "GET"}, "uri must be a non-empty string"),
        ({"method": "GET", "uri": "http://[oops"}, "cannot be parsed"),
        ({"method": "GET", "uri": "https://x", "content": {"a": 1}}, "content must be a string"),
        ({"method": "GET", "uri": "https://x", "headers": ["a"]}, "headers must be an object"),
        ({"method": "GET", "uri": "https://x", "headers": {"a": 1}}, "header 'a' must be"),
        (
            {"method": "GET", "uri": "https://x", "asynchronousPatternEnabled": True},
            "does not emulate it. Poll the Location",
        ),
        ({"method": "GET", "uri": "https://x", "timeout": "00:00:05"}, "'timeout' is not sent"),
    ],
)
def test_scheduled_input_refuses_requests_it_cannot_run(request_json: Any, message: str) -> None:
    with pytest.raises(http_activity.RequestRejected, match=message):
        http_activity.scheduled_input(request_json)


def no_token(_: dict[str, Any]) -> str:
    raise AssertionError("no token source in this request")


def test_request_headers_default_content_type_and_form_charset() -> None:
    build = http_activity._request_headers
    assert build({"headers": {"X": "1"}, "content": "hi"}, no_token) == {
        "X": "1",
        "Content-Type": "text/plain",
    }
    form = {"headers": {"content-type": "application/x-www-form-urlencoded"}, "content": "a=1"}
    assert (
        build(form, no_token)["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    )
    # Without content, a Content-Type header has nothing to describe and is not sent.
    assert build({"headers": {"Content-Type": "application/json"}}, no_token) == {}
    assert build({"headers": {"Accept": ["a", "b"]}}, no_token) == {"Accept": "a, b"}


def test_multipart_content_is_refused_as_the_extension_does() -> None:
    with pytest.raises(http_activity.HttpActivityFailed, match="Multipart content is not"):
        http_activity._request_headers(
            {"headers": {"Content-Type": "multipart/form-data"}, "content": "x"}, no_token
        )


# -- response -------------------------------------------------------------------------------


def test_response_keeps_response_headers_only_and_groups_repeats() -> None:
    text = http_activity.response_json(
        201,
        [
            ("Content-Type", "text/plain; charset=latin-1"),
            ("Content-Length", "3"),
            ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("Location", "https://example.com/items/1"),
            ("Set-Cookie", "a=1"),
            ("set-cookie", "b=2"),
        ],
        "caf\xe9".encode("latin-1"),
    )
    assert text == (
        '{"statusCode":201,"headers":{"Location":"https://example.com/items/1",'
        '"Set-Cookie":["a=1","b=2"]},"content":"café"}'
    )


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"\xef\xbb\xbfhi", "text/plain; charset=latin-1", "hi"),  # a byte order mark wins
        ("hé".encode("utf-16-le"), "text/plain; charset=utf-16-le", "hé"),
        ("hé".encode(), None, "hé"),  # UTF-8 without a charset
        (b"ok", "text/plain; charset=no-such-codec", "ok"),
    ],
)
def test_response_content_decoding(body: bytes, content_type: str | None, expected: str) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    assert json.loads(http_activity.response_json(200, headers, body))["content"] == expected


def test_the_sdk_reads_the_result_as_a_dict() -> None:
    result = http_activity.response_json(200, [("X", "1")], b'{"a": 1}')
    assert df_loads(result, expected_type=dict) == {
        "statusCode": 200,
        "headers": {"X": "1"},
        "content": '{"a": 1}',
    }


# -- token sources --------------------------------------------------------------------------


class FakeCredential:
    """Stands in for DefaultAzureCredential: a real token needs Azure AD."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> Any:
        self.scopes.append(scopes)
        return SimpleNamespace(token="token-for-test")


def test_token_sources_are_refused_unless_the_setting_allows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(http_activity.TOKEN_SETTING, raising=False)
    credential = FakeCredential()
    with pytest.raises(http_activity.HttpActivityFailed) as refused:
        http_activity.bearer_token(MANAGEMENT, lambda: credential)
    assert "needs a managed identity, which only Azure provides" in refused.value.reason
    assert f"Set {http_activity.TOKEN_SETTING}=true" in refused.value.reason
    assert credential.scopes == []


def test_with_the_setting_the_token_comes_from_the_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(http_activity.TOKEN_SETTING, "true")
    credential = FakeCredential()
    assert http_activity.bearer_token(MANAGEMENT, lambda: credential) == "token-for-test"
    other = {"kind": "AzureManagedIdentity", "resource": "api://my-app"}
    http_activity.bearer_token(other, lambda: credential)
    # ManagedIdentityTokenSource turns the management resource into a .default scope only.
    assert credential.scopes == [
        ("https://management.core.windows.net/.default",),
        ("api://my-app",),
    ]


def test_a_bad_setting_or_token_source_kind_is_a_clear_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(http_activity.TOKEN_SETTING, "maybe")
    with pytest.raises(http_activity.HttpActivityFailed, match="must be true or false"):
        http_activity.bearer_token(MANAGEMENT, FakeCredential)
    with pytest.raises(http_activity.HttpActivityFailed, match="kind '\"Other\"' is not supported"):
        http_activity.bearer_token({"kind": "Other"}, FakeCredential)


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers.items()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_token_is_sent_as_a_bearer_authorization(
    monkeypatch: pytest.MonkeyPatch, recorder: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = recorder
    monkeypatch.setenv(http_activity.TOKEN_SETTING, "true")
    credential = FakeCredential()
    result = http_activity.send(
        {"method": "GET", "uri": url, "headers": {}, "tokenSource": MANAGEMENT},
        lambda source: http_activity.bearer_token(source, lambda: credential),
    )
    assert json.loads(result)["statusCode"] == 204
    assert seen[0]["Authorization"] == "Bearer token-for-test"


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("/relative", "An invalid request URI was provided. Either the request URI must be"),
        ("ftp://example.com/x", "The 'ftp' scheme is not supported."),
    ],
)
def test_uris_httpclient_refuses(uri: str, reason: str) -> None:
    with pytest.raises(http_activity.HttpActivityFailed, match=reason):
        http_activity.send({"method": "GET", "uri": uri}, no_token)


def test_completion_event_records_a_failure_with_the_extension_shape() -> None:
    completion = http_activity.completion_event(
        7, json.dumps([{"method": "GET", "uri": "http://nosuch.invalid/"}]), lambda: NOW
    )
    assert completion["EventType"] == EventType.TASK_FAILED
    assert completion["TaskScheduledId"] == 7
    assert completion["Reason"] == "Name or service not known (nosuch.invalid:80)"
    details = json.loads(completion["Details"])
    assert details["ClassName"] == "System.Net.Http.HttpRequestException"
    assert details["Message"] == completion["Reason"]


def test_completion_event_refuses_a_malformed_work_item() -> None:
    completion = http_activity.completion_event(1, "{}", lambda: NOW)
    assert completion["Reason"] == "The HTTP activity input is not a one-request JSON array."


# -- the walk -------------------------------------------------------------------------------


def walk(history: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Any:
    catalog = FunctionCatalog(activities=frozenset({"echo"}), orchestrators=frozenset())
    return ActionWalk(HistoryIndex(history), NOW, "exec", catalog).run([actions], 3)


def test_call_http_takes_the_next_event_id_like_an_activity() -> None:
    actions = [
        {"actionType": 0, "functionName": "echo", "input": '"a"'},
        sdk_action(headers={"a": "b"}),
    ]
    first = walk([], actions)
    assert [(e["EventId"], e["Name"]) for e in first.new_events] == [(0, "echo")]
    history = [
        *first.new_events,
        event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=0, Result='"x"'),
    ]
    second = walk(history, actions)
    assert [(e["EventId"], e["Name"], e["Input"]) for e in second.new_events] == [
        (1, http_activity.ACTIVITY_NAME, None)
    ]
    (call,) = second.activities
    assert (call.task_id, call.name) == (1, http_activity.ACTIVITY_NAME)
    assert json.loads(call.input_text or "")[0]["headers"] == {"a": "b"}
    # Replayed with its completion: nothing new, and the instance has no open task.
    done = [
        *history,
        *second.new_events,
        event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=1, Result="{}"),
    ]
    third = walk(done, actions)
    assert third.new_events == [] and third.activities == [] and third.open_tasks == set()


def test_call_http_replacing_an_activity_is_non_deterministic() -> None:
    history = [event(EventType.TASK_SCHEDULED, NOW, 0, Name="echo", Version="", Input=None)]
    with pytest.raises(OrchestrationRejected, match="Non-Deterministic workflow detected"):
        walk(history, [sdk_action()])


def test_a_refused_request_fails_the_orchestration_from_the_walk() -> None:
    action = sdk_action()
    action["httpRequest"]["asynchronousPatternEnabled"] = True
    with pytest.raises(OrchestrationRejected, match="asynchronousPatternEnabled"):
        walk([], [action])


@pytest.mark.parametrize(
    ("request_json", "reason"),
    [
        ({"headers": {"X": "€"}}, "Request headers must contain only ASCII characters."),
        ({"method": "BAD METHOD"}, "The request could not be sent: Method cannot contain"),
    ],
)
def test_requests_http_refuses_to_send(
    recorder: tuple[str, list[dict[str, str]]], request_json: dict[str, Any], reason: str
) -> None:
    url, seen = recorder
    request = {"method": "GET", "uri": url, **request_json}
    with pytest.raises(http_activity.HttpActivityFailed, match=reason):
        http_activity.send(request, no_token)
    assert seen == []
