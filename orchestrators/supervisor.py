"""The `supervise_jobs` orchestration, kept for instances recorded or in flight: nothing starts it.

Earlier versions of the supervisor timer started it (instance `job-supervisor`) to decide, then
polled it for the decisions. The timer now decides and acts itself (triggers/supervisor_timer.py),
but the name stays registered, with its `report_supervision` activity, so that an instance an
earlier version started still completes after a deploy and the recorded histories replay
(docs/safe-deploys.md). It decides with the plain rules of domain/supervision.py on the task
hub's clock, has the findings reported and returns the decisions; no one acts on them.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC
from typing import Any

import azure.durable_functions as df

from activities.supervision import REPORT_SUPERVISION
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
        yield context.call_activity(
            REPORT_SUPERVISION, SupervisionReport(decisions=decisions).dump()
        )
    context.set_custom_status({"checked": len(run.jobs), "found": len(decisions)})
    return SupervisorResult(checked=len(run.jobs), decisions=decisions, at=now).dump()
