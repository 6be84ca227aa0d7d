"""`report_supervision`: the `supervise_jobs` orchestration's findings as log lines and metrics.

Kept, like that orchestration, for instances an earlier version started and for the recorded
histories (orchestrators/supervisor.py); the supervisor timer now logs and counts what it does
itself. Reporting is an activity because it is a side effect: once per decision, whatever the
replays.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from adapters import telemetry
from domain.failures import PermanentFailure
from domain.payload import InvalidPayload, read
from domain.supervision import Action, SupervisionReport, SupervisionReported

logger = logging.getLogger(__name__)

REPORT_ACTIVITY = "report_supervision"

bp = func.Blueprint()


def report(payload: Any) -> dict[str, Any]:
    """Log each decision with ids, step and durations only; count them by finding and action."""
    try:
        decisions = read(SupervisionReport, payload or {}).decisions
    except InvalidPayload as error:  # the same input fails every time: no retry can help
        raise PermanentFailure(f"invalid {REPORT_ACTIVITY} input: {error}") from error
    for decision in decisions:
        job = decision.job
        level = logging.WARNING if decision.action is Action.REPORT else logging.ERROR
        with telemetry.job_span(
            REPORT_ACTIVITY,
            job_type=job.orchestrator,
            instance_id=job.instance_id,
            correlation_id=None,
            **{
                "supervisor.finding": str(decision.finding),
                "supervisor.action": str(decision.action),
            },
        ):
            logger.log(
                level,
                "Supervisor: %s %s is %s (%s, step %s): %s",
                job.orchestrator,
                job.instance_id,
                decision.finding,
                job.runtime_status,
                job.step or "-",
                decision.action,
                extra={"supervision": decision.dump()},
            )
        telemetry.record_supervision(
            job.orchestrator, str(decision.finding), str(decision.action), "found"
        )
    return SupervisionReported(reported=len(decisions)).dump()


@bp.activity_trigger(input_name="payload")
def report_supervision(payload: dict[str, Any]) -> dict[str, int]:
    return report(payload)
