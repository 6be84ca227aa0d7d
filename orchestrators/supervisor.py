"""The supervisor (scheduler-agent-supervisor): decides what to do about stuck and overdue jobs.

Its input is the policy and a snapshot of the unfinished instances, taken by the timer that
started it (triggers/supervisor_timer.py). It measures every age against its own
`current_utc_datetime`, the task hub's clock (virtual time in devhost tests), decides with the
plain rules of domain/supervision.py, has the findings reported, and returns the decisions;
the timer then acts on them with its durable client, which orchestrators do not have.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC
from typing import Any

import azure.durable_functions as df

from activities.supervision import REPORT_ACTIVITY
from domain.payload import read
from domain.supervision import SupervisionReport, SupervisorResult, SupervisorRun, plan

ORCHESTRATOR = "supervise_jobs"

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def supervise_jobs(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Input: SupervisorRun; output: SupervisorResult."""
    run = read(SupervisorRun, context.get_input())
    now = context.current_utc_datetime
    if now.tzinfo is None:  # the SDK's timestamps hold UTC
        now = now.replace(tzinfo=UTC)
    decisions = tuple(plan(run.jobs, run.policy, now))
    if decisions:
        yield context.call_activity(REPORT_ACTIVITY, SupervisionReport(decisions=decisions).dump())
    context.set_custom_status({"checked": len(run.jobs), "found": len(decisions)})
    return SupervisorResult(checked=len(run.jobs), decisions=decisions, at=now).dump()
