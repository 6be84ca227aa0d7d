"""The `nightly-report` job: once per day, from the timer or POST /api/jobs/nightly-report."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

import app_config
from adapters import telemetry
from adapters.factory import root
from domain.payload import InvalidPayload
from domain.reports import (
    INSTANCE_PREFIX,
    ReportRequest,
    ReportResult,
    ReportRun,
    instance_id_for,
    report_day_for,
)
from orchestrators.nightly_report import JOB_TYPE, ORCHESTRATOR
from triggers.job_types import JobType, StartRequest, job_ids
from triggers.start_once import Started, start_once

logger = logging.getLogger(__name__)

AFTER_TODAY = "day: must not be after today (UTC)"

SCHEDULE = app_config.timer_schedule(
    app_config.NIGHTLY_REPORT_SCHEDULE_SETTING, app_config.DEFAULT_NIGHTLY_REPORT_SCHEDULE
)

bp = df.Blueprint()


async def start_nightly_report(
    client: df.DurableOrchestrationClient, day: str, correlation_id: str | None = None
) -> Started:
    """Start `nightly-report-<day>` (yyyy-MM-dd) unless it is pending, running or done (a
    failed, terminated or cancelled run starts afresh); once retention purged a completed run,
    its report blob still says the day is done. The chunking comes from the settings."""
    reported = await asyncio.to_thread(lambda: root.reports().reports.exists(day))
    run = ReportRun(
        day=day,
        policy=app_config.report_chunking(),
        correlation_id=correlation_id,
    )
    return await start_once(
        client,
        ORCHESTRATOR,
        instance_id_for(day),
        run,
        label="Nightly report",
        correlation_id=correlation_id,
        rerun_failed=True,
        already_done=reported,
    )


async def start_report_job(client: df.DurableOrchestrationClient, request: StartRequest) -> Started:
    body: ReportRequest = request.body
    # Not in ReportRequest: the rule needs the request's time (a later day has nothing yet).
    if body.day > request.received_at.date().isoformat():
        raise InvalidPayload([AFTER_TODAY])
    return await start_nightly_report(client, body.day, request.correlation_id)


REPORT_JOB = JobType(
    name="nightly-report",
    ids=job_ids(INSTANCE_PREFIX, r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    orchestrator=ORCHESTRATOR,
    request=ReportRequest,
    rules="`day` is not after today (UTC): a later day is answered 400.",
    result=ReportResult,
    start=start_report_job,
)


@bp.function_name("nightly_report_timer")
@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", use_monitor=True)
@bp.durable_client_input(client_name="client")
async def nightly_report_timer(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """Report on the UTC day before now; a late (past-due) run still reports on that day
    as long as it runs before midnight, which the missed-schedule alert watches for."""
    now = datetime.now(UTC)
    day = report_day_for(now)
    # Every run, past due or not: infra alerts when a day passes without one.
    telemetry.heartbeat("nightly_report", past_due=timer.past_due, at=now)
    if timer.past_due:
        logger.warning("Nightly report timer is past due; reporting on %s", day)
    # A timer has no caller to correlate with: the run's own id serves as its correlation id.
    instance_id = instance_id_for(day)
    with telemetry.job_span(
        "nightly_report_timer",
        job_type=JOB_TYPE,
        instance_id=instance_id,
        correlation_id=instance_id,
    ):
        await start_nightly_report(client, day, correlation_id=instance_id)
