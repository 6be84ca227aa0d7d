"""`report_supervision`, kept for `supervise_jobs` instances in flight and recorded histories."""

from __future__ import annotations

import logging
from collections.abc import Callable

from activities.envelope import ActivityBlueprint, JobIds
from adapters import telemetry
from domain.supervision import Action, SupervisionReport, SupervisionReported

logger = logging.getLogger(__name__)

# telemetry.record_supervision's shape: orchestrator, finding, action, outcome.
Record = Callable[[str, str, str, str], None]


def _ids(report: SupervisionReport) -> JobIds:
    return JobIds("supervisor", None, None, f"{len(report.decisions)} supervisor finding(s)")


bp = ActivityBlueprint(adapters=lambda: telemetry.record_supervision, ids=_ids)

REPORT_SUPERVISION = "report_supervision"


@bp.activity(REPORT_SUPERVISION, SupervisionReport)
def report_supervision(report: SupervisionReport, record: Record) -> SupervisionReported:
    """Log each decision with ids, step and durations only; count them by finding and action."""
    for decision in report.decisions:
        job = decision.job
        logger.log(
            logging.WARNING if decision.action is Action.REPORT else logging.ERROR,
            "Supervisor: %s %s is %s (%s, step %s): %s",
            job.orchestrator,
            job.instance_id,
            decision.finding,
            job.runtime_status,
            job.step or "-",
            decision.action,
            extra={"supervision": decision.dump()},
        )
        record(job.orchestrator, str(decision.finding), str(decision.action), "found")
    return SupervisionReported(reported=len(report.decisions))
