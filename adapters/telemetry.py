"""Telemetry: exports to Application Insights once, when configured, and the app's job metrics.

Without a connection string nothing is exported (opentelemetry-api's no-op providers, or
devhost's span file locally). What is recorded carries ids, names, statuses and durations only:
never a message body, an order's lines or personal data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import metrics, trace

from app_config import TelemetrySettings

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
# Instruments made before a provider is configured are proxies that start recording once it is.
meter = metrics.get_meter("jobs")

# The names Application Insights receives. The Azure Monitor exporter writes a metric as a
# customMetrics row (`name` = the instrument's name, `customDimensions` = its attributes) and a
# log record as a traces row (`message` = the formatted line). infra/modules/alerts.bicep queries
# these names; tests/infra/test_alerts.py holds every query to these constants and
# tests/unit/test_telemetry.py checks that what is exported carries them.
METRIC_JOB_DURATION = "jobs.duration"
METRIC_ENQUEUE_TO_COMPLETION = "jobs.enqueue_to_completion"
METRIC_QUEUE_WAIT = "jobs.queue_wait"
METRIC_JOB_FAILURES = "jobs.failures"
METRIC_HEARTBEAT = "jobs.heartbeat"
METRIC_SUPERVISOR_FINDINGS = "jobs.supervisor.findings"
METRIC_NOTIFICATIONS_DEAD = "notifications.dead"
# The express app's orders, from the message's enqueued time (or the request's arrival) to the
# order's end: what the express task hub exists for (docs/operations.md, "Express orders slow").
METRIC_EXPRESS_LATENCY = "orders.express_latency"

ATTR_JOB_TYPE = "job.type"
ATTR_JOB_OUTCOME = "job.outcome"
ATTR_QUEUE_NAME = "queue"
ATTR_HEARTBEAT_JOB = "job"
ATTR_PAST_DUE = "past_due"
ATTR_ORCHESTRATOR = "job.orchestrator"
ATTR_SUPERVISOR_FINDING = "supervisor.finding"
ATTR_SUPERVISOR_ACTION = "supervisor.action"
ATTR_SUPERVISOR_OUTCOME = "supervisor.outcome"
ATTR_NOTIFICATION_KIND = "notification.kind"

# Each metric and the attributes (customDimensions keys) it is recorded with.
METRIC_ATTRIBUTES: dict[str, frozenset[str]] = {
    METRIC_JOB_DURATION: frozenset({ATTR_JOB_TYPE, ATTR_JOB_OUTCOME}),
    METRIC_ENQUEUE_TO_COMPLETION: frozenset({ATTR_JOB_TYPE, ATTR_JOB_OUTCOME}),
    METRIC_QUEUE_WAIT: frozenset({ATTR_QUEUE_NAME}),
    METRIC_JOB_FAILURES: frozenset({ATTR_JOB_TYPE, ATTR_JOB_OUTCOME}),
    METRIC_HEARTBEAT: frozenset({ATTR_HEARTBEAT_JOB, ATTR_PAST_DUE}),
    METRIC_NOTIFICATIONS_DEAD: frozenset({ATTR_NOTIFICATION_KIND}),
    METRIC_EXPRESS_LATENCY: frozenset({ATTR_JOB_OUTCOME}),
    METRIC_SUPERVISOR_FINDINGS: frozenset(
        {
            ATTR_ORCHESTRATOR,
            ATTR_SUPERVISOR_FINDING,
            ATTR_SUPERVISOR_ACTION,
            ATTR_SUPERVISOR_OUTCOME,
        }
    ),
}

# `job.outcome` of a job that succeeded; any other outcome is the job's final status, and a
# job that failed ends "Failed" (orders) or "failed" (thumbnails, monitors): compare it
# case-insensitively with OUTCOME_FAILED.
OUTCOME_COMPLETED = "completed"
OUTCOME_FAILED = "failed"
# `supervisor.outcome` when the supervisor could not carry out its action.
SUPERVISION_FAILED = "failed"

# A scheduled job's heartbeat line: job name, time, " (past due)" or "".
HEARTBEAT_MESSAGE = "Heartbeat: scheduled job %s ran at %s%s"

job_duration = meter.create_histogram(
    METRIC_JOB_DURATION,
    unit="s",
    description="From a job's start to its end, by type and outcome",
)
enqueue_to_completion = meter.create_histogram(
    METRIC_ENQUEUE_TO_COMPLETION,
    unit="s",
    description="From the message's enqueued time (or the request's arrival) to the job's end",
)
queue_wait = meter.create_histogram(
    METRIC_QUEUE_WAIT,
    unit="s",
    description="From a message's enqueued time to its job's start",
)
job_failures = meter.create_counter(
    METRIC_JOB_FAILURES, unit="{job}", description="Jobs that ended in anything but success"
)
heartbeats = meter.create_counter(
    METRIC_HEARTBEAT, unit="{run}", description="One per run of each scheduled job"
)
notifications_dead = meter.create_counter(
    METRIC_NOTIFICATIONS_DEAD,
    unit="{mail}",
    description="Outbox notifications given up on after their last attempt, by kind",
)
express_latency = meter.create_histogram(
    METRIC_EXPRESS_LATENCY,
    unit="s",
    description="An express order's enqueued (or arrival) time to its end, in the express app",
)
supervisor_findings = meter.create_counter(
    METRIC_SUPERVISOR_FINDINGS,
    unit="{job}",
    description="Stuck or overdue jobs the supervisor found, by finding and action",
)

# Azure SDK spans (storage, Service Bus) stay; raw HTTP client spans go, because a caller's
# webhook URL may carry tokens or personal data in its path or query.
_INSTRUMENTATION_OPTIONS: dict[str, dict[str, bool]] = {
    "azure_sdk": {"enabled": True},
    "requests": {"enabled": False},
    "urllib": {"enabled": False},
    "urllib3": {"enabled": False},
    "django": {"enabled": False},
    "fastapi": {"enabled": False},
    "flask": {"enabled": False},
    "psycopg2": {"enabled": False},
}

# Loggers that write INFO lines about every upload to Application Insights (and, for
# azure-core, about every Azure SDK request, headers included).
_EXPORTER_LOGGERS = (
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.monitor.opentelemetry.exporter",
)

_lock = threading.Lock()
_configured = False

Configure = Callable[..., None]


def _azure_monitor() -> Configure:
    # Imported only when used: it pulls in the exporter and instrumentations.
    from azure.monitor.opentelemetry import configure_azure_monitor

    return configure_azure_monitor


def configure_telemetry(
    connection_string: str | None,
    *,
    credential: Any = None,
    configure: Callable[[], Configure] = _azure_monitor,
) -> bool:
    """Export spans, metrics and logs to Application Insights, once per process; False without
    a connection string. `credential`: the identity Entra-only App Insights requires, or None."""
    global _configured
    if not connection_string:
        logger.info("APPLICATIONINSIGHTS_CONNECTION_STRING is not set: telemetry is not exported")
        return False
    with _lock:
        if _configured:
            return True
        options: dict[str, Any] = {
            "connection_string": connection_string,
            "instrumentation_options": _INSTRUMENTATION_OPTIONS,
        }
        if credential is not None:
            options["credential"] = credential
        configure()(**options)
        # The distro's log handler sits on the root logger, which the Python worker sets to
        # INFO: the exporter's own INFO lines about each upload (azure-core's HTTP logging
        # policy, "Transmission succeeded") would be exported in turn, and so on for ever.
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        _configured = True
    logger.info("Telemetry is exported to Application Insights")
    return True


INSTANCE_ID = "app.instance_id"
CORRELATION_ID = "app.correlation_id"


def job_ids(job_type: str, instance_id: str | None, correlation_id: str | None) -> dict[str, str]:
    """The attributes every span of a job carries, trigger and activities alike."""
    return {
        ATTR_JOB_TYPE: job_type,
        INSTANCE_ID: instance_id or "",
        CORRELATION_ID: correlation_id or "",
    }


@contextmanager
def job_span(
    name: str,
    *,
    job_type: str,
    instance_id: str | None,
    correlation_id: str | None,
    **attributes: str | int | float | bool,
) -> Iterator[trace.Span]:
    """A span with the ids every span of a job carries, so one query finds the whole job (a
    starter that learns the instance id later sets it with `span.set_attribute(INSTANCE_ID)`)."""
    ids = {**job_ids(job_type, instance_id, correlation_id), **attributes}
    with tracer.start_as_current_span(name, attributes=ids) as span:
        yield span


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def record_queue_wait(queue: str, enqueued_at: datetime) -> None:
    """How long a message waited before its job started (queue and priority only)."""
    queue_wait.record(_seconds(enqueued_at, datetime.now(UTC)), {ATTR_QUEUE_NAME: queue})


def record_job_end(
    job_type: str,
    outcome: str,
    *,
    duration_seconds: float,
    succeeded: bool,
    enqueued_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """A job's duration, its enqueue-to-completion latency when known, and a failure count."""
    attributes = {ATTR_JOB_TYPE: job_type, ATTR_JOB_OUTCOME: outcome}
    job_duration.record(max(0.0, duration_seconds), attributes)
    if enqueued_at is not None:
        end = ended_at or datetime.now(UTC)
        enqueue_to_completion.record(_seconds(enqueued_at, end), attributes)
    if not succeeded:
        job_failures.add(1, attributes)


def heartbeat(job: str, *, past_due: bool, at: datetime | None = None) -> None:
    """One per run of a scheduled job: a log line and a count, so a missing run can alert."""
    at = at or datetime.now(UTC)
    heartbeats.add(1, {ATTR_HEARTBEAT_JOB: job, ATTR_PAST_DUE: past_due})
    logger.info(
        HEARTBEAT_MESSAGE,
        job,
        at.isoformat(timespec="seconds"),
        " (past due)" if past_due else "",
        extra={"heartbeat": {"job": job, "past_due": past_due}},
    )


def record_supervision(orchestrator: str, finding: str, action: str, outcome: str) -> None:
    """One stuck or overdue job the supervisor found and what became of it."""
    supervisor_findings.add(
        1,
        {
            ATTR_ORCHESTRATOR: orchestrator,
            ATTR_SUPERVISOR_FINDING: finding,
            ATTR_SUPERVISOR_ACTION: action,
            ATTR_SUPERVISOR_OUTCOME: outcome,
        },
    )


class JobLogMetrics(logging.Filter):
    """Turns the job log lines of orchestrators/job_results.py into job metrics.

    The job reporter logs each job's start and end, never during replay, with `extra={"job":
    {...}}` (type, ids, duration, an ISO `enqueued_at` when known): metrics stay out of
    orchestrator code and record only what the lines already say.
    """

    # Set in the express app, which runs only express orders: their latency has its own metric.
    express_orders = False

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "job", None)
        args = record.args if isinstance(record.args, tuple) else ()
        if not isinstance(fields, dict) or len(args) < 2 or not isinstance(args[1], str):
            return True
        what = args[1]
        if what == "completed":
            outcome, succeeded = OUTCOME_COMPLETED, True
        elif what.startswith("ended "):
            outcome, succeeded = what.removeprefix("ended ").strip() or "ended", False
        else:
            return True  # "started" and anything else: nothing to measure yet
        try:
            enqueued = fields.get("enqueued_at")
            enqueued_at = datetime.fromisoformat(enqueued) if enqueued else None
            ended_at = datetime.fromtimestamp(record.created, UTC)
            job_type = str(fields.get("job_type") or "unknown")
            record_job_end(
                job_type,
                outcome,
                duration_seconds=float(fields.get("duration_ms") or 0) / 1000,
                succeeded=succeeded,
                enqueued_at=enqueued_at,
                ended_at=ended_at,
            )
            if self.express_orders and job_type == ORDER_JOB and enqueued_at is not None:
                latency = _seconds(enqueued_at, ended_at)
                express_latency.record(latency, {ATTR_JOB_OUTCOME: outcome})
        except (TypeError, ValueError) as error:  # a metric must never break the log line
            logger.debug("job metrics skipped for a log record: %s", error)
        return True


JOB_LOGGER = "orchestrators.job_results"
ORDER_JOB = "order"  # the order job type's name (triggers/order_job.py)
_job_metrics = JobLogMetrics()


def install_job_metrics(logger_name: str = JOB_LOGGER) -> None:
    """Derive job metrics from the job reporter's log lines (idempotent). A filter sees only
    records its logger creates, so the logger is opened to INFO; handlers still decide output."""
    target = logging.getLogger(logger_name)
    if not target.isEnabledFor(logging.INFO):
        target.setLevel(logging.INFO)
    if _job_metrics not in target.filters:
        target.addFilter(_job_metrics)


def start(settings: TelemetrySettings, *, role: str = "main") -> bool:
    """The app's one start-up call: export when configured, and job metrics either way."""
    install_job_metrics()
    _job_metrics.express_orders = role == "express"
    credential = None
    if settings.connection_string and settings.entra:
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=settings.client_id)
    return configure_telemetry(settings.connection_string, credential=credential)
