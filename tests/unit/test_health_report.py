"""Unit tests for domain.health: report composition and check timing, with no SDK or I/O."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from domain.health import HealthCheck, HealthReport, compose_report, run_check
from domain.payload import InvalidPayload, read


class FakeClock:
    """Advances by a fixed step on every reading, so latencies are exact."""

    def __init__(self, step_seconds: float) -> None:
        self.now = 100.0
        self.step = step_seconds

    def __call__(self) -> float:
        reading = self.now
        self.now += self.step
        return reading


def raising(exc: Exception) -> Callable[[], None]:
    def probe() -> None:
        raise exc

    return probe


def test_all_checks_ok_is_healthy_with_200() -> None:
    report = compose_report("1.2.3", [("storage", HealthCheck.passed(12.345))])

    assert report.status == "healthy"
    assert report.http_status == 200
    assert report.dump() == {
        "status": "healthy",
        "version": "1.2.3",
        "checks": {"storage": {"status": "ok", "latencyMs": 12.3}},
    }


def test_one_failed_check_makes_the_report_unhealthy_with_503() -> None:
    report = compose_report(
        "1.2.3",
        [
            ("storage", HealthCheck.failed(5.0, "ServiceRequestError")),
            ("queue", HealthCheck.passed(1.0)),
        ],
    )

    assert report.status == "unhealthy"
    assert report.http_status == 503
    assert report.dump()["checks"]["storage"] == {
        "status": "failed",
        "latencyMs": 5.0,
        "error": "ServiceRequestError",
    }
    assert report.dump()["checks"]["queue"] == {"status": "ok", "latencyMs": 1.0}


def test_no_checks_is_healthy() -> None:
    assert compose_report("0.1.0", []).http_status == 200


def test_report_is_json_serialisable() -> None:
    report = compose_report("0.1.0", [("storage", HealthCheck.failed(1.0))])

    assert report.dump()["checks"]["storage"]["error"] == "Error"
    assert json.loads(json.dumps(report.dump())) == report.dump()


def test_duplicate_check_names_are_rejected() -> None:
    checks = [("storage", HealthCheck.passed(1.0)), ("storage", HealthCheck.passed(2.0))]

    with pytest.raises(ValueError, match="duplicate"):
        compose_report("0.1.0", checks)


@pytest.mark.parametrize(
    "error",
    [
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlm==",
        "Connection refused to http://127.0.0.1:10000",
        "Traceback (most recent call last):",
        "",
    ],
)
def test_an_error_that_is_not_a_class_name_never_reaches_the_body(error: str) -> None:
    result = HealthCheck.failed(1.0, error)

    assert result.dump()["error"] == "Error"


def test_dotted_class_names_are_kept() -> None:
    result = HealthCheck.failed(1.0, "azure.core.ServiceRequestError")

    assert result.error == "azure.core.ServiceRequestError"


def test_run_check_times_a_passing_probe() -> None:
    result = run_check("storage", lambda: None, clock=FakeClock(step_seconds=0.25))

    assert result == ("storage", HealthCheck.passed(250.0))


def test_run_check_reports_only_the_exception_class(caplog: pytest.LogCaptureFixture) -> None:
    secret = "AccountKey=c2VjcmV0;BlobEndpoint=https://acct.blob.core.windows.net"
    probe = raising(ConnectionError(f"could not connect with {secret}"))

    result = run_check("storage", probe, clock=FakeClock(step_seconds=0.5))

    assert result == ("storage", HealthCheck.failed(500.0, "ConnectionError"))
    assert "c2VjcmV0" not in json.dumps(result[1].dump())
    # Operators get the message in the log, with the key masked.
    assert "could not connect" in caplog.text
    assert "c2VjcmV0" not in caplog.text


def test_run_check_does_not_swallow_keyboard_interrupt() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_check("storage", interrupted)


def test_a_check_is_consistent_with_its_status_and_the_report_with_its_checks() -> None:
    with pytest.raises(ValueError, match="error: "):
        HealthCheck(status="ok", latency_ms=1.0, error="ValueError")
    with pytest.raises(ValueError, match="error: "):
        HealthCheck(status="failed", latency_ms=1.0)
    with pytest.raises(ValueError, match="status: "):
        HealthReport(status="healthy", version="1", checks={"s": HealthCheck.failed(1.0)})


def test_the_body_as_written_before_the_model_still_reads() -> None:
    """The body the hand-written to_dict produced (camelCase latency, error only when failed),
    plus a member a later version may add, reads back as the same report."""
    body = {
        "status": "unhealthy",
        "version": "1.2.3",
        "checks": {
            "storage": {"status": "failed", "latencyMs": 5.0, "error": "ServiceRequestError"},
            "queue": {"status": "ok", "latencyMs": 1.0, "region": "westeurope"},
        },
        "uptime": 12,
    }
    report = read(HealthReport, body)
    assert report.http_status == 503
    assert report.checks["queue"] == HealthCheck.passed(1.0)
    assert report.dump() == {k: v for k, v in body.items() if k != "uptime"} | {
        "checks": {
            "storage": body["checks"]["storage"],
            "queue": {"status": "ok", "latencyMs": 1.0},
        }
    }
    with pytest.raises(InvalidPayload) as raised:
        read(HealthReport, {**body, "checks": {"storage": {"status": "ok"}}})
    assert raised.value.problems == ["checks.storage.latencyMs: Field required"]


def test_the_schema_is_the_documented_body() -> None:
    """The serialization-mode schema api/openapi.json is generated from: camelCase latency, an
    error that is a class name, no other members."""
    schema = HealthReport.model_json_schema(mode="serialization")
    check = schema["$defs"]["HealthCheck"]
    assert schema["required"] == ["status", "version", "checks"]
    assert schema["properties"]["status"]["enum"] == ["healthy", "unhealthy"]
    assert schema["properties"]["checks"]["additionalProperties"] == {"$ref": "#/$defs/HealthCheck"}
    assert check["required"] == ["status", "latencyMs"]
    assert set(check["properties"]) == {"status", "latencyMs", "error"}
    assert check["properties"]["latencyMs"]["minimum"] == 0
    assert schema["additionalProperties"] is False and check["additionalProperties"] is False
