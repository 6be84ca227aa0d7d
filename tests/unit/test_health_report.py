"""Unit tests for domain.health: report composition and check timing, with no SDK or I/O."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from domain.health import CheckResult, compose_report, run_check


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
    report = compose_report("1.2.3", [CheckResult("storage", ok=True, latency_ms=12.345)])

    assert report.status == "healthy"
    assert report.http_status == 200
    assert report.to_dict() == {
        "status": "healthy",
        "version": "1.2.3",
        "checks": {"storage": {"status": "ok", "latencyMs": 12.3}},
    }


def test_one_failed_check_makes_the_report_unhealthy_with_503() -> None:
    report = compose_report(
        "1.2.3",
        [
            CheckResult("storage", ok=False, latency_ms=5.0, error="ServiceRequestError"),
            CheckResult("queue", ok=True, latency_ms=1.0),
        ],
    )

    assert report.status == "unhealthy"
    assert report.http_status == 503
    assert report.to_dict()["checks"]["storage"] == {
        "status": "failed",
        "latencyMs": 5.0,
        "error": "ServiceRequestError",
    }
    assert report.to_dict()["checks"]["queue"]["status"] == "ok"


def test_no_checks_is_healthy() -> None:
    assert compose_report("0.1.0", []).http_status == 200


def test_report_is_json_serialisable() -> None:
    report = compose_report("0.1.0", [CheckResult("storage", ok=False, latency_ms=1.0)])

    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_duplicate_check_names_are_rejected() -> None:
    checks = [CheckResult("storage", True, 1.0), CheckResult("storage", True, 2.0)]

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
    result = CheckResult("storage", ok=False, latency_ms=1.0, error=error)

    assert result.to_dict()["error"] == "Error"


def test_dotted_class_names_are_kept() -> None:
    result = CheckResult(
        "storage", ok=False, latency_ms=1.0, error="azure.core.ServiceRequestError"
    )

    assert result.error == "azure.core.ServiceRequestError"


def test_run_check_times_a_passing_probe() -> None:
    result = run_check("storage", lambda: None, clock=FakeClock(step_seconds=0.25))

    assert result == CheckResult("storage", ok=True, latency_ms=250.0)


def test_run_check_reports_only_the_exception_class(caplog: pytest.LogCaptureFixture) -> None:
    secret = "AccountKey=c2VjcmV0;BlobEndpoint=https://acct.blob.core.windows.net"
    probe = raising(ConnectionError(f"could not connect with {secret}"))

    result = run_check("storage", probe, clock=FakeClock(step_seconds=0.5))

    assert result == CheckResult("storage", ok=False, latency_ms=500.0, error="ConnectionError")
    assert "c2VjcmV0" not in json.dumps(result.to_dict())
    # Operators get the message in the log, with the key masked.
    assert "could not connect" in caplog.text
    assert "c2VjcmV0" not in caplog.text


def test_run_check_does_not_swallow_keyboard_interrupt() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_check("storage", interrupted)
