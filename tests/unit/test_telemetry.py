"""Telemetry (adapters/telemetry.py): spans share the correlation id; export only when configured.

The export test runs the app's start-up in a child process (global providers cannot be undone)
with a connection string whose ingestion endpoint is a local HTTP server standing in for
Application Insights, and checks that a span arrives there and that no body text does.
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from activities import orders, reports
from adapters import telemetry

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """An in-memory exporter on the process's SDK tracer provider (one is made if none is)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_trigger_and_activity_spans_share_the_correlation_id(
    spans: InMemorySpanExporter,
) -> None:
    spans.clear()
    correlation, instance = "corr-telemetry-1", "order-t-1"
    with telemetry.job_span(
        "orders_from_queue", job_type="order", instance_id=instance, correlation_id=correlation
    ):
        pass
    adapters = SimpleNamespace(
        stock=SimpleNamespace(release=lambda order_id: True),
        outbox=SimpleNamespace(enqueue=lambda order_id, kind, ref: None),
    )
    payload = {"order_id": "t-1", "correlation_id": correlation}
    orders.release_stock(payload, adapters)
    orders.send_notification({**payload, "kind": "escalation"}, adapters)
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == [
        "orders_from_queue",
        "release_stock",
        "send_notification",
    ]
    assert {s.attributes["app.correlation_id"] for s in finished} == {correlation}
    assert finished[0].attributes["app.instance_id"] == instance


def test_report_activity_spans_carry_the_runs_correlation_id(
    spans: InMemorySpanExporter,
) -> None:
    adapters = SimpleNamespace(orders=SimpleNamespace(order_facts_of_day=lambda *_: []))
    page = {"day": "2024-03-01", "after": None, "through": "o-9"}

    spans.clear()
    reports.sum_report_page({**page, "correlation_id": "corr-r-1"}, adapters)
    reports.sum_report_page(page, adapters)  # recorded before it travelled
    first, second = spans.get_finished_spans()
    assert first.attributes["app.correlation_id"] == "corr-r-1"
    assert first.attributes["app.instance_id"] == "nightly-report-2024-03-01"
    assert second.attributes["app.correlation_id"] == ""  # none known: empty, as elsewhere
    assert second.attributes["app.instance_id"] == "nightly-report-2024-03-01"


def test_no_connection_string_configures_nothing() -> None:
    called: list[str] = []

    def factory() -> telemetry.Configure:
        called.append("configured")
        return lambda **_: None

    assert telemetry.configure_telemetry(None, configure=factory) is False
    assert telemetry.configure_telemetry("", configure=factory) is False
    assert called == []


class _Ingestion(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append(body)
        reply = json.dumps({"itemsReceived": 1, "itemsAccepted": 1, "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ingestion() -> Iterator[tuple[str, list[bytes]]]:
    _Ingestion.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingestion)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", _Ingestion.received
    finally:
        server.shutdown()
        server.server_close()


CHILD = """
import logging
from opentelemetry import trace
import function_app  # configures telemetry at start-up
from adapters import telemetry
telemetry.start(function_app.app_config.telemetry_settings())  # a second call changes nothing
with telemetry.job_span("exported-span", job_type="order", instance_id="order-x",
                        correlation_id="corr-export"):
    logging.getLogger("triggers.test").warning("body must not leak: %s", "ok")
assert trace.get_tracer_provider().force_flush(30_000)
print("configured" if telemetry._configured else "not configured")
"""


def test_a_connection_string_exports_spans_once(
    ingestion: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    endpoint, received = ingestion
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        # The distro's default is a rate-limited sampler (5 traces/s) that may drop the one
        # span of a fresh process; keep every span here.
        "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": (
            f"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint={endpoint}"
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=str(ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("configured")
    sent = b"".join(received).decode("utf-8", "replace")
    assert "exported-span" in sent
    assert "corr-export" in sent


def test_an_unconfigured_start_up_does_not_crash(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    code = "import function_app; from adapters import telemetry; print(telemetry._configured)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=str(ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"


def test_job_log_lines_become_job_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[tuple[str, str, float, bool]] = []

    def record(job_type: str, outcome: str, **kw: object) -> None:
        recorded.append((job_type, outcome, kw["duration_seconds"], kw["succeeded"]))  # type: ignore[arg-type]

    monkeypatch.setattr(telemetry, "record_job_end", record)
    log = logging.getLogger("tests.job_results")
    telemetry.install_job_metrics("tests.job_results")
    for what, ms in (("started", 0), ("completed", 1500), ("ended Cancelled", 20)):
        fields = {
            "job_type": "order",
            "instance_id": "order-1",
            "correlation_id": "c",
            "duration_ms": ms,
        }
        log.info(
            "Job %s %s: type=%s instance=%s correlation=%s duration_ms=%d%s",
            "order-1",
            what,
            "order",
            "order-1",
            "c",
            ms,
            "",
            extra={"job": fields},
        )
    assert recorded == [("order", "completed", 1.5, True), ("order", "Cancelled", 0.02, False)]


# --- What Application Insights receives: the names the alerts query ------------------------

ALERT_SIGNALS_CHILD = """
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from opentelemetry import _logs, metrics
import function_app  # configures telemetry at start-up
from adapters import telemetry
from domain.job_updates import ResultRouting
from domain.orders import OrderStatus
from orchestrators.job_results import JobReporter

logging.getLogger().setLevel(logging.INFO)  # as the Python worker sets the root logger
telemetry.heartbeat("nightly_report", past_due=False)
context = SimpleNamespace(
    instance_id="order-a", is_replaying=False, current_utc_datetime=datetime.now(UTC)
)
reporter = JobReporter(context, "order", "corr-a", ResultRouting())
reporter._log(logging.WARNING, f"ended {OrderStatus.FAILED}", "payment declined")
telemetry.record_supervision("process_order", "overdue", "report", "reported")
for _ in range(2):  # a second round exports whatever the first one logged about itself
    assert metrics.get_meter_provider().force_flush(30_000)
    assert _logs.get_logger_provider().force_flush(30_000)
print("flushed")
"""


def _envelopes(bodies: list[bytes]) -> list[dict[str, object]]:
    """The Application Insights envelopes the exporter posted (a JSON array per request)."""
    found: list[dict[str, object]] = []
    for body in bodies:
        sent = json.loads(body)
        found.extend(sent if isinstance(sent, list) else [sent])
    return found


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    """Run the app's start-up, a heartbeat, a failed order's end line and a supervisor finding
    in a child process whose Application Insights is a local stand-in; what it received."""
    _Ingestion.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingestion)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("alert-signals")
    try:
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "HOME": str(home),
            "TMPDIR": str(home),
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                f"IngestionEndpoint=http://127.0.0.1:{server.server_port}/"
            ),
        }
        done = subprocess.run(
            [sys.executable, "-c", ALERT_SIGNALS_CHILD],
            cwd=str(ROOT),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().endswith("flushed")
        return _envelopes(list(_Ingestion.received))
    finally:
        server.shutdown()
        server.server_close()


def _metrics(envelopes: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    """customMetrics rows by name: each MetricData envelope's metric with its properties."""
    rows: dict[str, list[dict[str, object]]] = {}
    for envelope in envelopes:
        data = envelope.get("data") or {}
        if not isinstance(data, dict) or data.get("baseType") != "MetricData":
            continue
        base = data["baseData"]
        for metric in base["metrics"]:
            row = {**metric, "customDimensions": base.get("properties") or {}}
            rows.setdefault(metric["name"], []).append(row)
    return rows


def _messages(envelopes: list[dict[str, object]]) -> list[dict[str, object]]:
    """traces rows: each MessageData envelope's message with its properties."""
    rows = []
    for envelope in envelopes:
        data = envelope.get("data") or {}
        if isinstance(data, dict) and data.get("baseType") == "MessageData":
            base = data["baseData"]
            rows.append(
                {"message": base["message"], "customDimensions": base.get("properties") or {}}
            )
    return rows


def test_exported_metrics_carry_the_names_the_alerts_query(
    exported: list[dict[str, object]],
) -> None:
    rows = _metrics(exported)
    for name in (
        telemetry.METRIC_HEARTBEAT,
        telemetry.METRIC_JOB_DURATION,
        telemetry.METRIC_JOB_FAILURES,
        telemetry.METRIC_SUPERVISOR_FINDINGS,
    ):
        assert name in rows, f"{name} was not exported; got {sorted(rows)}"
        for row in rows[name]:
            assert set(row["customDimensions"]) == telemetry.METRIC_ATTRIBUTES[name], name

    (beat,) = rows[telemetry.METRIC_HEARTBEAT]
    assert beat["customDimensions"][telemetry.ATTR_HEARTBEAT_JOB] == "nightly_report"
    assert beat["value"] == 1

    (failure,) = rows[telemetry.METRIC_JOB_FAILURES]
    dimensions = failure["customDimensions"]
    assert dimensions[telemetry.ATTR_JOB_TYPE] == "order"
    assert dimensions[telemetry.ATTR_JOB_OUTCOME].lower() == telemetry.OUTCOME_FAILED
    assert failure["value"] == 1
    (duration,) = rows[telemetry.METRIC_JOB_DURATION]
    assert duration["count"] == 1  # valueCount: the jobs that ended

    (finding,) = rows[telemetry.METRIC_SUPERVISOR_FINDINGS]
    assert finding["customDimensions"][telemetry.ATTR_SUPERVISOR_ACTION] == "report"


def test_the_exported_heartbeat_line_is_the_one_the_alert_matches(
    exported: list[dict[str, object]],
) -> None:
    prefix = telemetry.HEARTBEAT_MESSAGE.split("%s")[0] + "nightly_report ran at "
    assert [row["message"] for row in _messages(exported) if row["message"].startswith(prefix)]


def test_uploads_are_not_logged_and_exported_in_turn(exported: list[dict[str, object]]) -> None:
    """With the root logger at INFO (the worker's level), the exporter's own lines about each
    upload would become traces rows, each upload making more: none may be exported."""
    loggers = {str(row["customDimensions"].get("logger_name")) for row in _messages(exported)}
    assert "adapters.telemetry" in loggers
    assert not {name for name in loggers if name.startswith(telemetry._EXPORTER_LOGGERS)}


def test_every_job_types_failure_is_the_outcome_the_alert_counts() -> None:
    from domain.monitors import MonitorStep
    from domain.orders import OrderStatus
    from domain.thumbnails import Outcome

    # Each job reporter ends "ended <status>"; JobLogMetrics makes the status job.outcome.
    for failed in (OrderStatus.FAILED, Outcome.FAILED, MonitorStep.FAILED):
        assert str(failed).lower() == telemetry.OUTCOME_FAILED
    for not_failed in (OrderStatus.CANCELLED, OrderStatus.REJECTED, MonitorStep.EXPIRED):
        assert str(not_failed).lower() != telemetry.OUTCOME_FAILED


def test_a_supervisor_action_that_fails_records_the_outcome_the_alert_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from domain.supervision import Action, Decision, Finding, JobSnapshot
    from triggers import supervisor_timer

    recorded: list[tuple[str, str, str, str]] = []
    monkeypatch.setattr(telemetry, "record_supervision", lambda *a: recorded.append(a))

    class Refusing:
        async def terminate(self, instance_id: str, reason: str) -> None:
            raise Exception("instance not found")

    now = datetime.now(UTC)
    job = JobSnapshot(
        instance_id="order-z",
        orchestrator="process_order",
        runtime_status="Running",
        created_at=now - timedelta(days=5),
        last_updated_at=now,
    )
    for action in (Action.TERMINATE, Action.REPORT):
        decision = Decision(
            job=job,
            finding=Finding.OVERDUE,
            action=action,
            age_seconds=timedelta(days=5).total_seconds(),
            limit_seconds=timedelta(days=4).total_seconds(),
        )
        asyncio.run(supervisor_timer.act(Refusing(), decision))  # type: ignore[arg-type]
    assert recorded == [
        ("process_order", "overdue", "terminate", telemetry.SUPERVISION_FAILED),
        ("process_order", "overdue", "report", "reported"),
    ]
