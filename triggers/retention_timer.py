"""The retention clean-up, once per day (RETENTION_SCHEDULE, 03:30 UTC by default)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

import app_config
from activities.retention import JOB_TYPE
from adapters import telemetry
from domain.retention import (
    INSTANCE_PREFIX,
    PURGE_LOOKBACK,
    PURGEABLE_STATUSES,
    RetentionPolicy,
    RetentionRun,
    cutoffs,
)
from orchestrators.retention import ORCHESTRATOR
from triggers.start_once import Started, start_once
from triggers.task_hubs import every_hub

logger = logging.getLogger(__name__)

SCHEDULE = app_config.timer_schedule(
    app_config.RETENTION_SCHEDULE_SETTING, app_config.DEFAULT_RETENTION_SCHEDULE
)

bp = df.Blueprint()


async def purge_finished_instances(client: df.DurableOrchestrationClient, before: datetime) -> int:
    """Purge instances created before `before` that are Completed, Failed or Terminated.

    The status list is never empty: without one the provider would purge running instances.
    """
    statuses = [OrchestrationRuntimeStatus(s) for s in PURGEABLE_STATUSES]
    result = await client.purge_instance_history_by(
        created_time_from=before - PURGE_LOOKBACK,
        created_time_to=before,
        runtime_status=statuses,
    )
    logger.info("Purged %d finished instances created before %s", result.instances_deleted, before)
    return int(result.instances_deleted)


async def run_retention(
    client: df.DurableOrchestrationClient, as_of: datetime, policy: RetentionPolicy
) -> Started:
    """Purge old finished instances in both task hubs (only a durable client can), then start
    `retention-<day>` for the blobs once a day (again if that day's run failed). The ages
    travel in the input, as orchestrators must not read settings, and `as_of` is the start
    time, so a rerun deletes the same things; purging again on a repeated tick is harmless.
    """
    before = cutoffs(as_of, policy).instances_before
    purged = sum([await purge_finished_instances(hub, before) for hub in every_hub(client)])
    run = RetentionRun(as_of=as_of, policy=policy, purged=purged)
    instance_id = run_instance_id(as_of)
    return await start_once(
        client, ORCHESTRATOR, instance_id, run, label="Retention", rerun_failed=True
    )


def run_instance_id(as_of: datetime) -> str:
    """One retention run per UTC day: `retention-<day>`."""
    return INSTANCE_PREFIX + as_of.date().isoformat()


@bp.function_name("retention_timer")
@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", use_monitor=True)
@bp.durable_client_input(client_name="client")
async def retention_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    telemetry.heartbeat("retention", past_due=timer.past_due)
    if timer.past_due:
        logger.warning("Retention timer is past due; running now")
    policy = app_config.retention_policy()
    now = datetime.now(UTC)
    # A timer has no caller to correlate with: the run's own id serves as its correlation id.
    instance_id = run_instance_id(now)
    with telemetry.job_span(
        "retention_timer", job_type=JOB_TYPE, instance_id=instance_id, correlation_id=instance_id
    ):
        await run_retention(client, now, policy)
