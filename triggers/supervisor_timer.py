"""Every SUPERVISOR_SCHEDULE (default every 15 minutes) the supervisor looks for stuck jobs.

One run: a heartbeat; a snapshot of the task hub's Running, Pending (and, for orchestrators
that opted into rewinds, Failed) instances, ids and times only; the `supervise_jobs`
orchestration decides what to do with domain/supervision.py on the task hub's clock and has
its findings reported; then this function acts on the decisions with its durable client:
the job's cancel event (order jobs: `CancelOrder`, so compensation runs), a terminate, or a
rewind. The policy is in docs/operations.md ("Stuck jobs"). One run at a time: a run still
in progress is logged as an overlap and this one is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

import app_config
from adapters import telemetry
from domain.fulfilment import NOT_CANCELLABLE
from domain.payload import read
from domain.supervision import (
    FAILED,
    PENDING,
    RUNNING,
    Action,
    Decision,
    JobRule,
    JobSnapshot,
    SupervisionPolicy,
    SupervisorResult,
    SupervisorRun,
)
from orchestrators.cancellation import CANCEL_EVENT
from orchestrators.order_workflow import ORCHESTRATOR as ORDER_ORCHESTRATOR
from orchestrators.supervisor import ORCHESTRATOR

logger = logging.getLogger(__name__)

SCHEDULE_SETTING = "SUPERVISOR_SCHEDULE"
DEFAULT_SCHEDULE = "0 */15 * * * *"
SCHEDULE = app_config.timer_schedule(SCHEDULE_SETTING, DEFAULT_SCHEDULE)
INSTANCE_ID = "job-supervisor"
JOB = "supervisor"
# Orders legitimately wait for an approver up to ORDER_APPROVAL_TIMEOUT_HOURS (72 by default):
# four days is "stuck" only past that. Override with SUPERVISOR_EXPECTED_DURATIONS.
DEFAULT_EXPECTED = {ORDER_ORCHESTRATOR: timedelta(days=4)}
# The supervisor's own run takes a few activity round trips.
WAIT_FOR_DECISIONS = 60.0
_ACTIVE = frozenset({"Pending", "Running"})

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
                not_cancellable_steps=frozenset(str(s) for s in NOT_CANCELLABLE)
                if is_order
                else frozenset(),
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
    created = _aware(status.created_time)
    updated = _aware(status.last_updated_time) if status.last_updated_time else created
    custom = status.custom_status
    step = custom.get("step") if isinstance(custom, dict) else None
    runtime = status.runtime_status.value if status.runtime_status else PENDING
    return JobSnapshot(
        instance_id=status.instance_id,
        orchestrator=status.name,
        runtime_status=runtime,
        created_at=created,
        last_updated_at=updated,
        step=step if isinstance(step, str) else None,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
    return [job for job in jobs if job.runtime_status in (RUNNING, PENDING, FAILED)]


async def decide(
    client: df.DurableOrchestrationClient, policy: SupervisionPolicy, jobs: list[JobSnapshot]
) -> list[Decision] | None:
    """Run the supervisor orchestration and wait for its decisions; None on an overlap."""
    existing = await client.get_status(INSTANCE_ID)
    if existing and existing.runtime_status and existing.runtime_status.value in _ACTIVE:
        logger.warning(
            "Supervisor run skipped: %s is still %s", INSTANCE_ID, existing.runtime_status.value
        )
        return None
    run = SupervisorRun(policy=policy, jobs=tuple(jobs))
    await client.start_new(ORCHESTRATOR, INSTANCE_ID, run.dump())
    deadline = time.monotonic() + WAIT_FOR_DECISIONS
    while time.monotonic() < deadline:
        status = await client.get_status(INSTANCE_ID)
        state = status.runtime_status.value if status and status.runtime_status else "Pending"
        if state == "Completed":
            return list(read(SupervisorResult, status.output).decisions)
        if state not in _ACTIVE:
            raise RuntimeError(f"the supervisor orchestration ended {state}")
        await asyncio.sleep(0.5)
    logger.warning(
        "Supervisor run took over %.0f s: its decisions wait for the next run", WAIT_FOR_DECISIONS
    )
    return None


async def act(client: df.DurableOrchestrationClient, decision: Decision) -> str:
    """Apply one decision; returns the outcome ("reported", "cancel requested", ...)."""
    job = decision.job
    try:
        match decision.action:
            case Action.CANCEL:
                assert decision.cancel_event is not None
                await client.raise_event(
                    job.instance_id, decision.cancel_event, {"reason": decision.reason}
                )
                outcome = "cancel requested"
            case Action.TERMINATE:
                await client.terminate(job.instance_id, decision.reason)
                outcome = "terminated"
            case Action.REWIND:
                await client.rewind(job.instance_id, decision.reason)
                outcome = "rewound"
            case _:
                outcome = "reported"
    except Exception as error:  # the SDK raises plain Exceptions; the job may have just ended
        logger.warning("Supervisor could not %s %s: %s", decision.action, job.instance_id, error)
        outcome = telemetry.SUPERVISION_FAILED  # the stuck-jobs alert looks for it
    else:
        logger.warning(
            "Supervisor: %s %s %s (%s)", job.orchestrator, job.instance_id, outcome, decision.reason
        )
    telemetry.record_supervision(
        job.orchestrator, str(decision.finding), str(decision.action), outcome
    )
    return outcome


@bp.function_name("supervise_jobs_timer")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def supervise_jobs_timer(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    telemetry.heartbeat(JOB, past_due=timer.past_due)
    policy = supervision_policy(app_config.supervisor_settings())
    with telemetry.job_span(
        "supervise_jobs_timer", job_type=JOB, instance_id=INSTANCE_ID, correlation_id=None
    ):
        jobs = await list_jobs(client, policy)
        decisions = await decide(client, policy, jobs)
        if decisions is None:
            return
        outcomes = [await act(client, decision) for decision in decisions]
    logger.info(
        "Supervisor checked %d unfinished job(s): %d need attention, %d acted on",
        len(jobs),
        len(decisions),
        sum(1 for o in outcomes if o not in ("reported", "failed")),
    )
