"""The `nightly-report` job type: POST /api/jobs/nightly-report {"day": "yyyy-MM-dd"}.

Runs the same single-run start as the timer, so asking for a day that is running or done
answers with that run (a duplicate), and a failed day can be run again. Days after the
request's own UTC day are refused: there is nothing to report yet.
"""

from __future__ import annotations

import re

import azure.durable_functions as df

from domain.reports import INSTANCE_PREFIX, InvalidReportDay, parse_report_day
from orchestrators.nightly_report import ORCHESTRATOR
from triggers.job_types import InvalidJobRequest, JobType, StartedJob, StartRequest
from triggers.nightly_report_timer import start_nightly_report

REPORT_JOB_ID = re.compile(re.escape(INSTANCE_PREFIX) + r"\d{4}-\d{2}-\d{2}")


def parse_report_request(body: object, today: str) -> str:
    """The day asked for; InvalidJobRequest names the problem (never echoes the value)."""
    if not isinstance(body, dict):
        raise InvalidJobRequest(["the body must be a JSON object with a day"])
    unknown = sorted(set(body) - {"day"})
    if unknown:
        raise InvalidJobRequest([f"{name}: not a field of this job type" for name in unknown])
    try:
        day = parse_report_day(body.get("day"))
    except InvalidReportDay as invalid:
        raise InvalidJobRequest([str(invalid)]) from invalid
    if day > today:
        raise InvalidJobRequest(["day: must not be after today (UTC)"])
    return day


async def start_report_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    day = parse_report_request(request.body, request.received_at.date().isoformat())
    run = await start_nightly_report(client, day, request.correlation_id)
    return StartedJob(run.instance_id, run.runtime_status, duplicate=not run.started)


REPORT_JOB = JobType(
    name="nightly-report",
    orchestrator=ORCHESTRATOR,
    ids=REPORT_JOB_ID,
    start=start_report_job,
)
