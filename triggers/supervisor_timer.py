"""Every SUPERVISOR_SCHEDULE (default 15 minutes) the supervisor finds and treats stuck jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

import app_config
from adapters import telemetry
from domain.fulfilment import NOT_CANCELLABLE
from domain.payload import utc
from domain.supervision import (
    WATCHED_STATUSES,
    Action,
    Decision,
    JobRule,
    JobSnapshot,
    SupervisionPolicy,
    plan,
)
from orchestrators.cancellation import CANCEL_EVENT
from orchestrators.order_workflow import ORCHESTRATOR as ORDER_ORCHESTRATOR
from triggers.start_once import runtime_status_of, step_of
from triggers.task_hubs import every_hub

logger = logging.getLogger(__name__)

SCHEDULE_SETTING = "SUPERVISOR_SCHEDULE"
DEFAULT_SCHEDULE = "0 */15 * * * *"
SCHEDULE = app_config.timer_schedule(SCHEDULE_SETTING, DEFAULT_SCHEDULE)
# The instance id of the `supervise_jobs` orchestration earlier versions started; never touched.
INSTANCE_ID = "job-supervisor"
JOB = "supervisor"
# Orders legitimately wait for an approver up to ORDER_APPROVAL_TIMEOUT_HOURS (72 by default):
# four days is "stuck" only past that. Override with SUPERVISOR_EXPECTED_DURATIONS.
DEFAULT_EXPECTED = {ORDER_ORCHESTRATOR: timedelta(days=4)}
REPORTED = "reported"

bp = df.Blueprint()


def supervision_policy(settings: app_config.SupervisorSettings) -> SupervisionPolicy:
    """The policy from the settings, plus what the code knows: which jobs take a cancel event."""
    expected = {name: limit.total_seconds() for name, limit in DEFAULT_EXPECTED.items()}
    expected.update(settings.expected_seconds)
    names = set(expected) | set(settings.terminate_after_seconds) | set(settings.rewind)
    rules = []
    for name in sorted(names):
        is_order = name == ORDER_ORCHESTRATOR
        rules.append(
            JobRule(
                orchestrator=name,
                expected_seconds=expected.get(name, settings.default_expected_seconds),
                cancel_event=CANCEL_EVENT if is_order else None,
                not_cancellable_steps=frozenset(map(str, NOT_CANCELLABLE if is_order else ())),
                terminate_after_seconds=settings.terminate_after_seconds.get(name),
                rewind_failed=name in settings.rewind,
            )
        )
    return SupervisionPolicy(
        rules=tuple(rules),
        default_expected_seconds=settings.default_expected_seconds,
        max_pending_seconds=settings.max_pending_seconds,
        exempt=frozenset({INSTANCE_ID}),
    )


def snapshot(status: DurableOrchestrationStatus) -> JobSnapshot | None:
    """Ids, status, times and the custom status's step; None for an incomplete record."""
    if not status.instance_id or not status.name or status.created_time is None:
        return None
    created = utc(status.created_time)
    updated = utc(status.last_updated_time) if status.last_updated_time else created
    return JobSnapshot(
        instance_id=status.instance_id,
        orchestrator=status.name,
        runtime_status=runtime_status_of(status),
        created_at=created,
        last_updated_at=updated,
        step=step_of(status),
    )


async def list_jobs(
    client: df.DurableOrchestrationClient, policy: SupervisionPolicy
) -> list[JobSnapshot]:
    """The instances the policy may act on. The SDK reads one page of the extension's
    listing, so a very large backlog is covered over several runs (docs/operations.md)."""
    statuses = [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending]
    if any(rule.rewind_failed for rule in policy.rules):
        statuses.append(OrchestrationRuntimeStatus.Failed)
    found = await client.get_status_by(runtime_status=statuses)
    jobs = [job for status in found if (job := snapshot(status)) is not None]
    return [job for job in jobs if job.runtime_status in WATCHED_STATUSES]


async def act(client: df.DurableOrchestrationClient, decision: Decision) -> str:
    """Carry out one decision in a span with the job's ids, then log and count it; returns the
    outcome ("reported", "cancel requested", ...)."""
    job, finding, action = decision.job, str(decision.finding), str(decision.action)
    attributes = {"supervisor.finding": finding, "supervisor.action": action}
    try:
        with telemetry.job_span(
            "supervise_job",
            job_type=job.orchestrator,
            instance_id=job.instance_id,
            correlation_id=None,
            **attributes,
        ):
            outcome = await _carry_out(client, decision)
    except Exception as error:  # the SDK raises plain Exceptions; the job may have just ended
        logger.warning("Supervisor could not %s %s: %s", action, job.instance_id, error)
        outcome = telemetry.SUPERVISION_FAILED  # the stuck-jobs alert looks for it
    else:
        logger.warning(
            "Supervisor: %s %s %s (%s, step %s)",
            job.orchestrator,
            job.instance_id,
            outcome,
            decision.reason,
            job.step or "-",
            extra={"supervision": decision.dump()},
        )
    telemetry.record_supervision(job.orchestrator, finding, action, outcome)
    return outcome


async def _carry_out(client: df.DurableOrchestrationClient, decision: Decision) -> str:
    instance_id, reason = decision.job.instance_id, decision.reason
    match decision.action, decision.cancel_event:
        case Action.CANCEL, str(event):
            await client.raise_event(instance_id, event, {"reason": reason})
            return "cancel requested"
        case Action.TERMINATE, _:
            await client.terminate(instance_id, reason)
            return "terminated"
        case Action.REWIND, _:
            await client.rewind(instance_id, reason)
            return "rewound"
    return REPORTED


async def supervise(
    client: df.DurableOrchestrationClient,
    settings: app_config.SupervisorSettings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    """One run: in each task hub list, decide at `clock()`, act on each decision oldest first;
    the outcomes."""
    policy = supervision_policy(settings)
    with telemetry.job_span(
        "supervise_jobs_timer", job_type=JOB, instance_id=INSTANCE_ID, correlation_id=None
    ):
        jobs, outcomes = [], []
        for hub_client in every_hub(client):  # express orders run in their own task hub
            found = await list_jobs(hub_client, policy)
            decisions = plan(found, policy, clock())
            outcomes += [await act(hub_client, decision) for decision in decisions]
            jobs += found
    acted = sum(
        1 for outcome in outcomes if outcome not in (REPORTED, telemetry.SUPERVISION_FAILED)
    )
    logger.info(
        "Supervisor checked %d unfinished job(s): %d need attention, %d acted on",
        len(jobs),
        len(outcomes),
        acted,
    )
    return outcomes


@bp.function_name("supervise_jobs_timer")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def supervise_jobs_timer(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """The policy is in docs/operations.md ("Stuck jobs"). Runs never overlap: the host runs a
    timer function on one instance at a time and waits for a run to end before the next."""
    telemetry.heartbeat(JOB, past_due=timer.past_due)
    await supervise(client, app_config.supervisor_settings())
