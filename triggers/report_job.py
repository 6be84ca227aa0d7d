"""The `nightly-report` job type: POST /api/jobs/nightly-report {"day": "yyyy-MM-dd"}.

Runs the same single-run start as the timer, so asking for a day that is running or done
answers with that run (a duplicate), and a failed day can be run again. The job API reads the
body with ReportRequest; days after the request's own UTC day are refused here, because that
rule needs the time of the request: there is nothing to report yet.
"""

from __future__ import annotations

import re

import azure.durable_functions as df

from domain.payload import InvalidPayload
from domain.reports import INSTANCE_PREFIX, ReportRequest, ReportResult
from orchestrators.nightly_report import ORCHESTRATOR
from triggers.job_types import JobType, StartedJob, StartRequest
from triggers.nightly_report_timer import start_nightly_report

REPORT_JOB_ID = re.compile(INSTANCE_PREFIX + r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AFTER_TODAY = "day: must not be after today (UTC)"


async def start_report_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    body: ReportRequest = request.body
    if body.day > request.received_at.date().isoformat():
        raise InvalidPayload([AFTER_TODAY])
    run = await start_nightly_report(client, body.day, request.correlation_id)
    return StartedJob(run.instance_id, run.runtime_status, duplicate=not run.started)


REPORT_JOB = JobType(
    name="nightly-report",
    orchestrator=ORCHESTRATOR,
    ids=REPORT_JOB_ID,
    request=ReportRequest,
    result=ReportResult,
    rules="`day` is not after today (UTC): a later day is answered 400.",
    start=start_report_job,
)
