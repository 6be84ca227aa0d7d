"""HTTP triggers on devhost over real HTTP: routes, methods, bodies, responses, threads, logs."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.testing import DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "http_basics"

EXECUTING = re.compile(
    r"Executing 'Functions\.(?P<name>\w+)' \((?:Reason='[^']*', )?Id=(?P<id>[\w-]+)\)"
)
EXECUTED = re.compile(
    r"Executed 'Functions\.(?P<name>\w+)' "
    r"\((?P<outcome>Succeeded|Failed), Id=(?P<id>[\w-]+), Duration=\d+ms\)"
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    with DevHostProcess(APP, state_dir=tmp_path_factory.mktemp("http-basics-state")) as running:
        yield running


def get(host: DevHostProcess, path: str, **kwargs: object) -> requests.Response:
    return host.http.get(host.url(path), timeout=30, **kwargs)


def wait_for_log(host: DevHostProcess, needle: str, timeout: float = 10) -> str:
    """The child writes its console to a file; give the last lines a moment to land."""
    return wait_until(
        lambda: logs if needle in (logs := host.logs()) else None,
        timeout,
        lambda: f"{needle!r} in the devhost log:\n{host.logs()[-3000:]}",
    )


# -- routes ----------------------------------------------------------------------------------


def test_route_parameter_and_plain_str_return(host: DevHostProcess) -> None:
    response = get(host, "/v1/hello/Ada")
    assert response.status_code == 200
    assert response.text == "Hello, Ada"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_route_parameters_are_url_decoded(host: DevHostProcess) -> None:
    assert get(host, "/v1/hello/J%C3%BCrgen").text == "Hello, Jürgen"


def test_a_decoded_newline_in_a_route_parameter_reaches_the_function(host: DevHostProcess) -> None:
    """The host routes `%0A` like any other character into the parameter (the function decides
    what to make of it); devhost once answered aiohttp's own 404 without calling the app."""
    response = get(host, "/v1/hello/Ada%0A")
    assert response.status_code == 200
    assert response.text == "Hello, Ada\n"


def test_literals_and_prefix_match_case_insensitively(host: DevHostProcess) -> None:
    assert get(host, "/V1/HELLO/Ada").text == "Hello, Ada"


def test_route_prefix_v1_replaces_api(host: DevHostProcess) -> None:
    assert get(host, "/api/hello/Ada").status_code == 404
    assert get(host, "/hello/Ada").status_code == 404


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/v1/items", None), ("/v1/items/", None), ("/v1/items/7", "7")],
)
def test_optional_parameter(host: DevHostProcess, path: str, expected: str | None) -> None:
    response = get(host, path)
    assert response.status_code == 200
    assert response.json() == {"id": expected}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/things/42", {"by": "id", "id": 42}),
        ("/v1/things/-7", {"by": "id", "id": -7}),
        ("/v1/things/abc", {"by": "slug", "slug": "abc"}),
        ("/v1/things/latest", {"by": "literal"}),
        ("/v1/things/LATEST", {"by": "literal"}),
    ],
)
def test_constraints_pick_the_function(host: DevHostProcess, path: str, expected: dict) -> None:
    response = get(host, path)
    assert response.status_code == 200
    assert response.json() == expected


def test_the_function_whose_name_sorts_first_wins(host: DevHostProcess) -> None:
    """Routes are tried in function-name order and the first match wins; no specificity.

    The host orders functions with OrderBy(f => f.Name, StringComparer.OrdinalIgnoreCase)
    (azure-functions-host src/WebJobs.Script/Host/FunctionMetadataManager.cs, end of
    LoadFunctionMetadata), WebScriptHostHttpRoutesManager maps one route per function in that
    order, and WebJobsRouteBuilder.Build (azure-webjobs-sdk-extensions) adds them unsorted to
    an ASP.NET RouteCollection, which returns the first route that matches. So shadow_any's
    catch-all hides shadow_exact's literal route for GET.
    """
    assert get(host, "/v1/shadow/exact").json() == {"by": "shadow_any", "rest": "exact"}
    posted = host.http.post(host.url("/v1/shadow/exact"), timeout=30)
    assert posted.json() == {"by": "shadow_exact"}


def test_function_name_order_ignores_case(host: DevHostProcess) -> None:
    """alpha_pick sorts before Bravo_pick only when case is ignored (OrdinalIgnoreCase)."""
    assert get(host, "/v1/pick/abc").json() == {"by": "alpha_pick"}


def test_function_name_order_compares_upper_case_like_dotnet(host: DevHostProcess) -> None:
    """OrdinalIgnoreCase upper-cases: 'TIEA' < 'TIE_B' ('A' < '_'); lower-casing would flip it."""
    assert get(host, "/v1/tie/x").json() == {"by": "tieA"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/things/4a",  # neither int nor alpha
        "/v1/things/99999999999",  # out of Int32 range
        "/v1/things/4.5",
        "/v1/things",  # the parameter is required
        "/v1/things/1/2",
        "/v1/nope",
        "/v1/hello",
        "/v1",
        "/",
    ],
)
def test_unmatched_paths_are_404(host: DevHostProcess, path: str) -> None:
    assert get(host, path).status_code == 404


def test_function_name_decorator_names_the_function(host: DevHostProcess) -> None:
    assert get(host, "/v1/renamed").text == "I am RenamedGreeting"
    assert get(host, "/v1/greeting_with_another_name").status_code == 404


def test_route_defaults_to_the_function_name(host: DevHostProcess) -> None:
    assert get(host, "/v1/DefaultRoute").text == "routed by function name"
    assert get(host, "/v1/defaultroute").text == "routed by function name"


# -- methods ---------------------------------------------------------------------------------


def test_same_route_dispatches_by_method(host: DevHostProcess) -> None:
    order = {"lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 3}]}
    created = host.http.post(host.url("/v1/orders"), json=order, timeout=30)
    assert created.status_code == 201
    assert created.json() == {"created": order, "total": 5}
    assert get(host, "/v1/orders").json() == {"orders": []}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_a_method_outside_methods_is_404(host: DevHostProcess, method: str) -> None:
    assert host.http.request(method, host.url("/v1/orders"), timeout=30).status_code == 404
    assert host.http.request(method, host.url("/v1/hello/Ada"), timeout=30).status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_no_methods_allows_every_method(host: DevHostProcess, method: str) -> None:
    response = host.http.request(method, host.url("/v1/any"), timeout=30)
    assert response.status_code == 200
    assert response.json() == {"method": method}


# -- request data ----------------------------------------------------------------------------


def test_query_parameters_headers_and_url(host: DevHostProcess) -> None:
    response = get(host, "/v1/echo?a=1&b=two%20words", headers={"X-Demo": "yes"})
    body = response.json()
    assert body["method"] == "GET"
    assert body["params"] == {"a": "1", "b": "two words"}
    assert body["x_demo"] == "yes"
    assert body["url"] == host.url("/v1/echo?a=1&b=two%20words")


def test_repeated_query_keys_are_joined_with_commas(host: DevHostProcess) -> None:
    """The host sends Request.Query values as StringValues.ToString(): values joined with ','."""
    body = get(host, "/v1/echo?tag=x&tag=y").json()
    assert body["params"] == {"tag": "x,y"}


def test_query_keys_ignore_case_and_empty_values_are_dropped(host: DevHostProcess) -> None:
    """Query keys compare case-insensitively (the first spelling is kept); StringValues skips
    empty values when joining, and the host leaves out a key whose value is empty."""
    body = get(host, "/v1/echo?tag=x&TAG=&Tag=y&empty=&flag").json()
    assert body["params"] == {"tag": "x,y"}


def test_repeated_headers_are_joined_with_commas(host: DevHostProcess) -> None:
    """Request.Headers values go to the worker as StringValues.ToString(), joined with ','."""
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    try:
        connection.putrequest("GET", "/v1/echo")
        for value in ("a", "b, c", ""):
            connection.putheader("X-Repeated", value)
        connection.endheaders()
        body = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert body["x_repeated"] == "a,b, c"


def test_json_body_via_get_json(host: DevHostProcess) -> None:
    order = {"lines": [{"qty": 1}], "note": "ünïcode ✓"}
    response = host.http.post(host.url("/v1/orders"), json=order, timeout=30)
    assert response.json()["created"] == order


def test_binary_body_round_trips_every_byte(host: DevHostProcess) -> None:
    payload = bytes(range(256)) * 4
    response = host.http.post(
        host.url("/v1/binary"),
        data=payload,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.content == payload[::-1]
    assert response.headers["X-Length"] == str(len(payload))
    assert response.headers["Content-Type"] == "application/octet-stream"


# -- responses -------------------------------------------------------------------------------


def test_http_response_status_headers_and_mimetype(host: DevHostProcess) -> None:
    response = get(host, "/v1/teapot")
    assert response.status_code == 418
    assert response.text == "short and stout"
    assert response.headers["X-Custom"] == "kettle"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_json_mimetype_has_no_charset(host: DevHostProcess) -> None:
    assert get(host, "/v1/items/1").headers["Content-Type"] == "application/json"


# -- execution -------------------------------------------------------------------------------


def test_async_functions_share_one_persistent_event_loop(host: DevHostProcess) -> None:
    first, second, third = (get(host, "/v1/async/loop").json() for _ in range(3))
    assert first["loop_id"] == second["loop_id"] == third["loop_id"]
    assert first["thread"] == second["thread"] == third["thread"]


def test_sync_functions_run_off_the_main_and_loop_threads(host: DevHostProcess) -> None:
    loop_thread = get(host, "/v1/async/loop").json()["thread"]
    info = get(host, "/v1/sync/thread").json()
    assert info["is_main"] is False
    assert info["thread"] != "MainThread"
    assert info["thread"] != loop_thread


def test_context_parameter_carries_invocation_id_and_name(host: DevHostProcess) -> None:
    info = get(host, "/v1/whoami").json()
    assert info["function_name"] == "whoami"
    invocation_id = info["invocation_id"]
    logs = wait_for_log(host, f"Executed 'Functions.whoami' (Succeeded, Id={invocation_id}")
    assert f"Executing 'Functions.whoami' (Id={invocation_id})" in logs or re.search(
        rf"Executing 'Functions\.whoami' \(Reason='[^']*', Id={invocation_id}\)", logs
    )


def test_a_raising_function_gives_500_and_the_host_keeps_serving(host: DevHostProcess) -> None:
    assert get(host, "/v1/explode").status_code == 500
    assert get(host, "/v1/hello/again").text == "Hello, again"
    logs = wait_for_log(host, "kaboom from explode")
    failed = [m for m in EXECUTED.finditer(logs) if m["name"] == "explode"]
    assert failed
    assert all(m["outcome"] == "Failed" for m in failed)
    started = {m["id"] for m in EXECUTING.finditer(logs) if m["name"] == "explode"}
    assert {m["id"] for m in failed} == started
    after = logs[failed[-1].end() :]
    assert "RuntimeError: kaboom from explode" in after


def test_every_invocation_logs_executing_then_executed_with_the_same_id(
    host: DevHostProcess,
) -> None:
    for path in ("/v1/hello/log", "/v1/async/loop", "/v1/sync/thread", "/v1/renamed"):
        assert get(host, path).status_code == 200
    logs = wait_for_log(host, "Executed 'Functions.RenamedGreeting' (Succeeded")
    executing = list(EXECUTING.finditer(logs))
    started = {m["id"]: m["name"] for m in executing}
    finished = {m["id"]: m["name"] for m in EXECUTED.finditer(logs)}
    assert len(started) == len(executing)  # every invocation has its own id
    assert started == finished
    assert {"hello", "async_loop", "sync_thread", "RenamedGreeting"} <= set(started.values())
