"""domain.monitors: the monitor request, the state carried across runs, and its schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.job_updates import ResultRouting
from domain.monitors import (
    MonitorRequest,
    MonitorState,
    MonitorStep,
    PollOutcome,
    PollRequest,
    custom_status,
    monitor_result,
)
from domain.outbound import AllowList, check_urls
from domain.payload import InvalidPayload, parse_request, read
from triggers.problem_details import pointer

NOBODY = AllowList()
LOCAL = AllowList.parse(["127.0.0.1:8080"])
DONE = {"pointer": "/status", "equals": "done"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SAMPLES: dict[str, Any] = {
    "object": {"k": "v"},
    "array": ["x"],
    "string": "x",
    "number": 1.5,
    "integer": 7,
    "boolean": True,
    "null": None,
}


def body(**fields: Any) -> dict[str, Any]:
    return {"status_url": "https://ops.example.com/operations/42", "condition": DONE, **fields}


def parse(data: Any, allowed: AllowList = NOBODY) -> MonitorRequest:
    """What the job API and the monitor's start do with a body: the model, then the URLs."""
    request = parse_request(MonitorRequest, json.dumps(data))
    check_urls(allowed, status_url=request.status_url, callback_url=request.callback_url)
    return request


def limits(request: MonitorRequest) -> tuple[float, float, float, float]:
    """interval, backoff factor, longest interval and expiry, defaults filled in at the start."""
    state = MonitorState.start(request, "m-1", None)
    return (
        state.interval_seconds,
        state.backoff_factor,
        state.max_interval_seconds,
        state.expires_in_seconds,
    )


def problems(data: Any, allowed: AllowList = NOBODY) -> list[str]:
    with pytest.raises(InvalidPayload) as caught:
        parse(data, allowed)
    return caught.value.problems


def pointers(found: list[str]) -> set[str | None]:
    return {pointer(text) for text in found}


def test_a_minimal_request_gets_the_defaults() -> None:
    request = parse(body())
    assert request.monitor_id is None and request.callback_url is None
    assert request.condition.dump() == DONE and request.failure_condition is None
    assert limits(request) == (30.0, 1.5, 600.0, 86400.0)
    nulls = parse(body(interval_seconds=None, callback_url=None, failure_condition=None))
    assert limits(nulls)[0] == 30.0 and nulls.callback_url is None


def test_a_full_request_is_kept() -> None:
    request = parse(
        body(
            monitor_id="build-42",
            failure_condition={"pointer": "/status", "equals": "failed"},
            interval_seconds=10,
            backoff_factor=2,
            max_interval_seconds=60,
            expires_in_seconds=3600,
            callback_url="https://hooks.example.com/monitor",
        )
    )
    assert request.monitor_id == "build-42"
    assert request.failure_condition is not None
    assert request.failure_condition.dump() == {"pointer": "/status", "equals": "failed"}
    assert limits(request) == (10.0, 2.0, 60.0, 3600.0)
    assert request.callback_url == "https://hooks.example.com/monitor"


def test_every_problem_of_the_body_is_listed_with_its_field_and_no_values() -> None:
    found = problems(
        {
            "monitor_id": "no spaces allowed",
            "status_url": "https://ops.example.com/operations/42?token=s3cret",
            "condition": {"pointer": "status", "equals": "done"},
            "failure_condition": {"pointer": "/s"},
            "interval_seconds": 1,
            "backoff_factor": 0.5,
            "expires_in_seconds": 10**9,
            "callback_url": "x" * 2049,
            "unknown": "s3cret",
        }
    )
    assert pointers(found) == {
        "#/monitor_id",
        "#/condition/pointer",
        "#/failure_condition",
        "#/interval_seconds",
        "#/backoff_factor",
        "#/expires_in_seconds",
        "#/callback_url",
        "#/unknown",
    }
    assert "s3cret" not in json.dumps(found) and "no spaces" not in json.dumps(found)


def test_both_urls_pass_the_outbound_guard_and_no_problem_quotes_them() -> None:
    found = problems(
        body(
            status_url="http://169.254.169.254/latest/meta-data?token=s3cret",
            callback_url="https://[::ffff:10.0.0.1]/hook",
        )
    )
    assert pointers(found) == {"#/status_url", "#/callback_url"}
    assert "s3cret" not in json.dumps(found) and "169.254.169.254" not in json.dumps(found)
    assert any("cloud instance metadata" in text for text in found)
    assert any(text.startswith("callback_url: the host is refused: IPv4-mapped") for text in found)


def test_required_fields_and_types() -> None:
    assert problems([]) == ["Input should be an object"]
    assert pointers(problems({})) == {"#/status_url", "#/condition"}
    assert pointers(problems(body(interval_seconds=True))) == {"#/interval_seconds"}
    assert pointers(problems(body(interval_seconds="30"))) == {"#/interval_seconds"}


# Each member's JSON type; the optional ones take null too (null is the same as absent).
FIELDS = {
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
FULL = body(
    monitor_id="m-1",
    failure_condition={"pointer": "/error", "exists": True},
    interval_seconds=10,
    max_interval_seconds=60,
    backoff_factor=2,
    expires_in_seconds=3600,
    callback_url="https://hooks.example.com/done",
)


def with_value(where: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(FULL))
    *parents, last = where.removeprefix("#/").split("/")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("where", "sample"),
    [
        (where, sample)
        for where, (kind, optional) in FIELDS.items()
        for sample in SAMPLES
        if sample != kind
        and not (kind == "number" and sample == "integer")
        and not (optional and sample == "null")
        and not (where in ("#/monitor_id", "#/condition/pointer") and sample == "string")
    ],
)
def test_every_wrong_type_is_one_problem_for_its_field(where: str, sample: str) -> None:
    assert pointers(problems(with_value(where, SAMPLES[sample]))) == {where}


@pytest.mark.parametrize("value", [{"k": "v"}, ["x"]])
def test_a_condition_operand_of_the_wrong_type_is_a_problem_for_it(value: Any) -> None:
    assert pointers(problems(with_value("#/condition/equals", value))) == {"#/condition/equals"}


def test_a_monitor_id_with_a_trailing_line_break_is_refused() -> None:
    assert pointers(problems(with_value("#/monitor_id", "m-1\n"))) == {"#/monitor_id"}


def test_the_cap_and_the_expiry_cannot_be_below_the_interval() -> None:
    found = problems(body(interval_seconds=60, max_interval_seconds=30, expires_in_seconds=30))
    assert pointers(found) == {"#/max_interval_seconds", "#/expires_in_seconds"}
    assert all("at least interval_seconds" in text for text in found)
    # Without an interval, its default (30) is the floor.
    found = problems(body(max_interval_seconds=10, expires_in_seconds=20))
    assert pointers(found) == {"#/max_interval_seconds", "#/expires_in_seconds"}
    assert limits(parse(body(max_interval_seconds=30, expires_in_seconds=30)))[2] == 30


def test_the_schema_states_the_limits() -> None:
    schema = MonitorRequest.model_json_schema()
    fields = schema["properties"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"status_url", "condition"}
    interval = fields["interval_seconds"]
    assert (interval["default"], interval["anyOf"][0]["minimum"]) == (30, 5)
    assert fields["max_interval_seconds"]["anyOf"][0]["minimum"] == 5
    assert schema["then"]["properties"]["max_interval_seconds"] == {"minimum": 30}
    assert fields["expires_in_seconds"]["anyOf"][0]["maximum"] == 30 * 24 * 3600
    for url in ("status_url", "callback_url"):
        text = json.dumps(fields[url])
        assert '"maxLength": 2048' in text and "{0,61}" in text  # labels: hosts <= 253 chars
    assert fields["monitor_id"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
    assert schema["properties"]["condition"] == {"$ref": "#/$defs/MonitorCondition"}


def test_an_allow_listed_local_status_url_is_accepted() -> None:
    request = parse(body(status_url="http://127.0.0.1:8080/op"), LOCAL)
    assert request.status_url == "http://127.0.0.1:8080/op"
    found = problems(body(status_url="http://127.0.0.1:9/op"), LOCAL)
    assert any("loopback" in t for t in found) and "127.0.0.1" not in json.dumps(found)


def state(**fields: Any) -> MonitorState:
    request = parse(body(interval_seconds=10, backoff_factor=2, max_interval_seconds=35, **fields))
    return MonitorState.start(request, "m-1", "corr-1")


def test_waits_grow_by_the_factor_up_to_the_cap_and_end_at_the_expiry() -> None:
    current = state(expires_in_seconds=100).begun(T0)
    assert current.expires_at == T0 + timedelta(seconds=100)
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
    copy = read(MonitorState, json.loads(json.dumps(original.dump())))
    assert copy == original
    assert copy.routing == ResultRouting(callback_url="https://hooks.example.com/x")
    assert original.dump()["started_at"] == "2026-01-01T12:00:00+00:00"
    assert original.dump()["failure_condition"] is None  # written as null, as always
    with pytest.raises(InvalidPayload):
        read(MonitorState, {"monitor_id": "m-1"})
    with pytest.raises(InvalidPayload):
        read(MonitorState, {**original.dump(), "monitor_id": "bad id"})


def test_an_old_state_still_reads() -> None:
    """The first run's input as recorded (whole numbers where floats are now written, no
    sequence yet), with a member added by a later version."""
    recorded = {
        "monitor_id": "hist-done-first-poll",
        "status_url": "https://status.example.com/operations/hist-done-first-poll",
        "condition": DONE,
        "failure_condition": {"pointer": "/status", "equals": "failed"},
        "interval_seconds": 10,
        "max_interval_seconds": 40,
        "backoff_factor": 2,
        "expires_in_seconds": 3600,
        "correlation_id": "corr-1",
        "routing": {"reply_queue": None, "callback_url": None},
        "started_at": None,
        "expires_at": None,
        "polls": 0,
        "last_error": None,
        "last_http_status": None,
        "added_later": {"x": 1},
    }
    old = read(MonitorState, recorded)
    assert (old.sequence, old.interval_seconds, old.correlation_id) == (0, 10.0, "corr-1")
    later = read(MonitorState, {**recorded, "started_at": "2026-11-22T04:10:28.902609+00:00"})
    assert later.dump()["started_at"] == "2026-11-22T04:10:28.902609+00:00"


def test_the_result_carries_counts_and_times_only() -> None:
    current = state().begun(T0).after_poll(200, None)
    result = monitor_result(current, MonitorStep.EXPIRED, T0 + timedelta(hours=1), "r" * 400)
    assert result.dump() == {
        "monitor_id": "m-1",
        "status": "expired",
        "polls": 1,
        "started_at": T0.isoformat(),
        "ended_at": (T0 + timedelta(hours=1)).isoformat(),
        "last_http_status": 200,
        "reason": "r" * 300,
    }
    bare = monitor_result(state().begun(T0), MonitorStep.COMPLETED, T0).dump()
    assert "reason" not in bare and "last_http_status" not in bare
    assert custom_status(MonitorStep.WAITING, 40) == {"step": "waiting", "progress": 40}
    assert custom_status(MonitorStep.CANCELLED, 40) == {"step": "cancelled", "progress": 100}


def test_the_poll_request_round_trips_and_refuses_bad_input() -> None:
    request = read(
        PollRequest,
        {"url": "https://x.example/s", "condition": DONE, "monitor_id": "m-1", "poll": 3},
    )
    # Every member, null ones too: the form recorded histories hold, compared as text.
    assert json.dumps(request.dump()) == (
        '{"url": "https://x.example/s", "condition": {"pointer": "/status", "equals": "done"}, '
        '"failure_condition": null, "monitor_id": "m-1", "poll": 3, "correlation_id": null}'
    )
    assert read(PollRequest, json.loads(json.dumps(request.dump()))) == request
    for bad, field in [
        ({**request.dump(), "poll": 0}, "poll"),
        ({**request.dump(), "url": ""}, "url"),
        ({**request.dump(), "monitor_id": "a b"}, "monitor_id"),
        ({**request.dump(), "condition": {"pointer": "x"}}, "condition"),
        ({**request.dump(), "correlation_id": "c" * 200}, "correlation_id"),
    ]:
        with pytest.raises(InvalidPayload, match=field):
            read(PollRequest, bad)


def test_an_old_poll_payload_still_reads() -> None:
    """A poll's input and result as recorded, with members added by a later version."""
    recorded = json.loads(
        '{"url": "https://status.example.com/operations/hist-done-after-waits", '
        '"condition": {"pointer": "/status", "equals": "done"}, '
        '"failure_condition": {"pointer": "/status", "equals": "failed"}, '
        '"monitor_id": "hist-done-after-waits", "poll": 3, "correlation_id": "corr-1"}'
    )
    assert read(PollRequest, {**recorded, "added_later": 1}).dump() == recorded
    outcome = read(PollOutcome, {"http_status": 200, "done": True, "failed": False, "x": 0})
    assert (outcome.done, outcome.failed, outcome.redirects) == (True, False, 0)
