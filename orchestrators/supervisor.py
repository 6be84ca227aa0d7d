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
from domain.supervision import JobSnapshot, SupervisionPolicy, plan

ORCHESTRATOR = "supervise_jobs"

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def supervise_jobs(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Input: {"policy": SupervisionPolicy.to_dict(), "jobs": [JobSnapshot.to_dict()]}."""
    run = context.get_input() or {}
    policy = SupervisionPolicy.from_dict(run["policy"])
    jobs = [JobSnapshot.from_dict(item) for item in run.get("jobs", [])]
    now = context.current_utc_datetime
    if now.tzinfo is None:  # the SDK's timestamps hold UTC
        now = now.replace(tzinfo=UTC)
    decisions = [d.to_dict() for d in plan(jobs, policy, now)]
    if decisions:
        yield context.call_activity(REPORT_ACTIVITY, {"decisions": decisions})
    context.set_custom_status({"checked": len(jobs), "found": len(decisions)})
    return {"checked": len(jobs), "decisions": decisions, "at": now.isoformat()}
