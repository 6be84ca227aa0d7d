"""`supervise_jobs`, kept for instances in flight and recorded histories: nothing starts it now."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.supervision import REPORT_SUPERVISION
from domain.payload import read, utc
from domain.supervision import SupervisionReport, SupervisorResult, SupervisorRun, plan

ORCHESTRATOR = "supervise_jobs"

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def supervise_jobs(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Input: SupervisorRun; output: SupervisorResult. Earlier supervisor timers started it
    (`job-supervisor`) and acted on the decisions it returned; the timer now decides itself."""
    run = read(SupervisorRun, context.get_input())
    now = utc(context.current_utc_datetime)
    decisions = tuple(plan(run.jobs, run.policy, now))
    if decisions:
        yield context.call_activity(
            REPORT_SUPERVISION, SupervisionReport(decisions=decisions).dump()
        )
    context.set_custom_status({"checked": len(run.jobs), "found": len(decisions)})
    return SupervisorResult(checked=len(run.jobs), decisions=decisions, at=now).dump()
