"""Starts the nightly report once per day: at 02:00 UTC (NIGHTLY_REPORT_SCHEDULE) for yesterday.

The instance id is `nightly-report-<day>`. The extension's start_new REPLACES a finished
instance of the same id, so the starter looks first: a run that is pending, running or has
completed for the day is not started again (logged as an overlap); a failed or terminated one
is started afresh. Once retention has purged a completed run, the report blob it wrote still
says the day is done.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

import app_config
from adapters import telemetry
from adapters.report_store import report_adapters
from domain.reports import ChunkingPolicy, ReportRun, instance_id_for, report_day_for
from orchestrators.nightly_report import JOB_TYPE, ORCHESTRATOR

logger = logging.getLogger(__name__)

# A run in any other state (or none) may start; these three end for good and may be rerun.
RESTARTABLE = frozenset({"Failed", "Terminated", "Canceled"})
# The extension's refusal for a Pending/Running id (a starter that lost a race).
_ALREADY_EXISTS = "already exists"

SCHEDULE = app_config.timer_schedule(
    app_config.NIGHTLY_REPORT_SCHEDULE_SETTING, app_config.DEFAULT_NIGHTLY_REPORT_SCHEDULE
)

bp = df.Blueprint()


@dataclass(frozen=True)
class SingleRun:
    """What a start did: `started` is False when a run for the same id exists or is done."""

    instance_id: str
    started: bool
    runtime_status: str


async def start_single_run(
    client: df.DurableOrchestrationClient,
    orchestrator: str,
    instance_id: str,
    run_input: dict[str, Any],
    *,
    already_done: bool = False,
) -> SingleRun:
    """Start `orchestrator` as `instance_id` unless that instance is active or completed."""
    existing = await client.get_status(instance_id)
    if existing:  # falsy when there is no such instance
        status = existing.runtime_status.value if existing.runtime_status else "Pending"
        if status not in RESTARTABLE:
            logger.warning("Overlap: %s not started again, it is %s", instance_id, status)
            return SingleRun(instance_id, started=False, runtime_status=status)
        logger.info("%s was %s: starting it again", instance_id, status)
    elif already_done:
        logger.warning("Overlap: %s not started again, its output exists", instance_id)
        return SingleRun(instance_id, started=False, runtime_status="Completed")
    try:
        await client.start_new(orchestrator, instance_id, run_input)
    except Exception as error:  # the SDK raises a plain Exception with the extension's body
        if _ALREADY_EXISTS not in str(error):
            raise
        logger.warning("Overlap: %s lost a start race, it is running", instance_id)
        return SingleRun(instance_id, started=False, runtime_status="Running")
    logger.info("%s started", instance_id)
    return SingleRun(instance_id, started=True, runtime_status="Pending")


async def start_nightly_report(
    client: df.DurableOrchestrationClient, day: str, correlation_id: str | None = None
) -> SingleRun:
    """Start the report for `day` (yyyy-MM-dd) once; the chunking comes from the settings."""
    instance_id = instance_id_for(day)
    reported = await asyncio.to_thread(lambda: report_adapters().reports.exists(day))
    run = ReportRun(
        day=day,
        policy=ChunkingPolicy(**app_config.report_chunking()),
        correlation_id=correlation_id,
    )
    return await start_single_run(
        client, ORCHESTRATOR, instance_id, run.dump(), already_done=reported
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
    # Every run, past due or not: infra alerts when a day passes without one.
    telemetry.heartbeat("nightly_report", past_due=timer.past_due, at=now)
    if timer.past_due:
        logger.warning("Nightly report timer is past due; reporting on %s", report_day_for(now))
    # A timer has no caller to correlate with: the run's own id serves as its correlation id.
    day = report_day_for(now)
    instance_id = instance_id_for(day)
    with telemetry.job_span(
        "nightly_report_timer",
        job_type=JOB_TYPE,
        instance_id=instance_id,
        correlation_id=instance_id,
    ):
        await start_nightly_report(client, day, correlation_id=instance_id)
