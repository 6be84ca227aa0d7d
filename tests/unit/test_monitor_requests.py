"""domain.monitors: the monitor request, the state carried across runs, and its schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.job_updates import ResultRouting
from domain.monitors import (
    InvalidMonitorRequest,
    MonitorState,
    MonitorStep,
    PollRequest,
    custom_status,
    monitor_result,
    parse_monitor_request,
)
from domain.order_payloads import InvalidPayload
from domain.outbound import AllowList

NOBODY = AllowList()
LOCAL = AllowList.parse(["127.0.0.1:8080"])
DONE = {"pointer": "/status", "equals": "done"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def body(**fields: Any) -> dict[str, Any]:
    return {"status_url": "https://ops.example.com/operations/42", "condition": DONE, **fields}


def problems(data: Any, allowed: AllowList = NOBODY) -> list[str]:
    with pytest.raises(InvalidMonitorRequest) as caught:
        parse_monitor_request(data, allowed)
    return caught.value.problems


def test_a_minimal_request_gets_the_defaults() -> None:
    request = parse_monitor_request(body(), NOBODY)
    assert request.monitor_id is None and request.callback_url is None
    assert request.condition == DONE and request.failure_condition is None
    assert (request.interval_seconds, request.backoff_factor) == (30.0, 1.5)
    assert (request.max_interval_seconds, request.expires_in_seconds) == (600.0, 86400.0)


def test_a_full_request_is_kept() -> None:
    request = parse_monitor_request(
        body(
            monitor_id="build-42",
            failure_condition={"pointer": "/status", "equals": "failed"},
            interval_seconds=10,
            backoff_factor=2,
            max_interval_seconds=60,
            expires_in_seconds=3600,
            callback_url="https://hooks.example.com/monitor",
        ),
        NOBODY,
    )
    assert request.monitor_id == "build-42"
    assert request.failure_condition == {"pointer": "/status", "equals": "failed"}
    assert (request.interval_seconds, request.max_interval_seconds) == (10.0, 60.0)
    assert request.callback_url == "https://hooks.example.com/monitor"


def test_every_problem_is_listed_with_its_field_and_no_values() -> None:
    found = problems(
        {
            "monitor_id": "no spaces allowed",
            "status_url": "http://169.254.169.254/latest/meta-data?token=s3cret",
            "condition": {"pointer": "status", "equals": "done"},
            "failure_condition": {"pointer": "/s"},
            "interval_seconds": 1,
            "backoff_factor": 0.5,
            "expires_in_seconds": 10**9,
            "callback_url": "https://[::ffff:10.0.0.1]/hook",
        }
    )
    fields = {text.split(":")[0].split(".")[0] for text in found}
    assert fields == {
        "monitor_id",
        "status_url",
        "condition",
        "failure_condition",
        "interval_seconds",
        "backoff_factor",
        "expires_in_seconds",
        "callback_url",
    }
    assert "s3cret" not in json.dumps(found) and "no spaces" not in json.dumps(found)
    assert any("cloud instance metadata" in text for text in found)
    assert any("IPv4-mapped form of 10.0.0.1" in text for text in found)


def test_required_fields_and_types() -> None:
    assert problems([]) == ["the body must be a JSON object"]
    found = problems({})
    assert any(text.startswith("status_url: required") for text in found)
    assert any(text.startswith("condition: required") for text in found)
    assert any("interval_seconds" in t for t in problems(body(interval_seconds=True)))
    assert any("interval_seconds" in t for t in problems(body(interval_seconds="30")))


def test_the_cap_and_the_expiry_cannot_be_below_the_interval() -> None:
    found = problems(body(interval_seconds=60, max_interval_seconds=30, expires_in_seconds=30))
    assert any(t.startswith("max_interval_seconds: a number from 60") for t in found)
    assert any(t.startswith("expires_in_seconds: a number from 60") for t in found)


def test_an_allow_listed_local_status_url_is_accepted() -> None:
    request = parse_monitor_request(body(status_url="http://127.0.0.1:8080/op"), LOCAL)
    assert request.status_url == "http://127.0.0.1:8080/op"
    assert any("loopback" in t for t in problems(body(status_url="http://127.0.0.1:9/op"), LOCAL))


def state(**fields: Any) -> MonitorState:
    request = parse_monitor_request(
        body(interval_seconds=10, backoff_factor=2, max_interval_seconds=35, **fields), NOBODY
    )
    return MonitorState.start(request, "m-1", "corr-1")


def test_waits_grow_by_the_factor_up_to_the_cap_and_end_at_the_expiry() -> None:
    current = state(expires_in_seconds=100).begun(T0)
    assert current.expires_at == (T0 + timedelta(seconds=100)).isoformat()
    now, waits = T0, []
    while not current.expired(now):
        wait = current.next_wait(now)
        waits.append(wait.total_seconds())
        now += wait
        current = current.after_poll(200, None).backed_off()
    assert waits == [10, 20, 35, 35]  # 10 + 20 + 35 + 35 = 100: the last wait ends at expiry
    assert current.polls == 4


def test_the_clock_is_set_once() -> None:
    first = state().begun(T0)
    assert first.begun(T0 + timedelta(hours=1)) == first
    assert first.progress(T0) == 0
    assert first.progress(T0 + timedelta(hours=12)) == 50
    assert first.progress(T0 + timedelta(days=2)) == 99


def test_a_poll_is_counted_with_its_outcome() -> None:
    after = state().begun(T0).after_poll(None, "x" * 1000)
    assert after.polls == 1 and after.last_http_status is None
    assert after.last_error is not None and len(after.last_error) == 300
    assert after.after_poll(200, None).last_error is None


def test_the_state_round_trips_through_json() -> None:
    original = state(callback_url="https://hooks.example.com/x").begun(T0).after_poll(503, "busy")
    copy = MonitorState.from_dict(json.loads(json.dumps(original.to_dict())))
    assert copy == original
    assert copy.routing == ResultRouting(callback_url="https://hooks.example.com/x")
    with pytest.raises(InvalidPayload):
        MonitorState.from_dict({"monitor_id": "m-1"})
    with pytest.raises(InvalidPayload):
        MonitorState.from_dict({**original.to_dict(), "monitor_id": "bad id"})


def test_the_result_carries_counts_and_times_only() -> None:
    current = state().begun(T0).after_poll(200, None)
    result = monitor_result(current, MonitorStep.EXPIRED, T0 + timedelta(hours=1), "r" * 400)
    assert result == {
        "monitor_id": "m-1",
        "status": "expired",
        "polls": 1,
        "started_at": T0.isoformat(),
        "ended_at": (T0 + timedelta(hours=1)).isoformat(),
        "last_http_status": 200,
        "reason": "r" * 300,
    }
    assert custom_status(MonitorStep.WAITING, 40) == {"step": "waiting", "progress": 40}
    assert custom_status(MonitorStep.CANCELLED, 40) == {"step": "cancelled", "progress": 100}


def test_the_poll_request_round_trips_and_refuses_bad_input() -> None:
    request = PollRequest("https://x.example/s", DONE, None, "m-1", 3, "corr")
    assert PollRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request
    for bad, field in [
        ({**request.to_dict(), "poll": 0}, "poll"),
        ({**request.to_dict(), "url": ""}, "url"),
        ({**request.to_dict(), "monitor_id": "a b"}, "monitor_id"),
        ({**request.to_dict(), "condition": {"pointer": "x"}}, "condition"),
        ({**request.to_dict(), "correlation_id": "c" * 200}, "correlation_id"),
    ]:
        with pytest.raises(InvalidPayload, match=field):
            PollRequest.from_dict(bad)
