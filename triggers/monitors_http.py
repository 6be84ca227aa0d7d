"""POST /api/monitors: start a monitor of an external operation; it is a job of type `monitor`.

The same start as POST /api/jobs/monitor, and the same answers: 202 with this app's job status
and cancel URLs (GET /api/jobs/{id}, POST /api/jobs/{id}/cancel), 200 with the status of a
monitor id that already finished, 400 problem details for a body that cannot run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from triggers.correlation import correlation_id
from triggers.job_types import InvalidJobRequest, StartRequest
from triggers.jobs_http import (
    FINISHED,
    INVALID_REQUEST,
    NO_STORE,
    RETRY_AFTER_SECONDS,
    JobUrls,
    job_view,
)
from triggers.monitor_job import MONITOR_JOB
from triggers.problem_details import problem, problem_response

bp = df.Blueprint()


@bp.function_name("monitors_start")
@bp.route(route="monitors", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def monitors_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    try:
        body = req.get_json()
    except ValueError:
        return _invalid("The body is not JSON.", [])
    start = StartRequest(body, datetime.now(UTC), correlation_id(req))
    try:
        started = await MONITOR_JOB.start(client, start)
    except InvalidJobRequest as invalid:
        return _invalid("The request has problems listed in errors.", invalid.problems)
    urls = job_urls(req)
    headers = {"Location": urls.status(started.job_id), **NO_STORE}
    if started.runtime_status in FINISHED:
        status = await client.get_status(started.job_id)
        if status:  # falsy only if its history was purged since the start looked
            return _json(200, job_view(MONITOR_JOB, status, urls), headers)
    accepted = {
        "id": started.job_id,
        "type": MONITOR_JOB.name,
        "runtime_status": started.runtime_status,
        "duplicate": started.duplicate,
        "status_url": urls.status(started.job_id),
        "cancel_url": urls.cancel(started.job_id),
    }
    return _json(202, accepted, {**headers, "Retry-After": RETRY_AFTER_SECONDS})


def job_urls(req: func.HttpRequest) -> JobUrls:
    """The job API's URLs (…/api/jobs) next to this route (…/api/monitors), on the caller's
    host and without its query string (which may hold its function key)."""
    scheme, netloc, path, _, _ = urlsplit(req.url)
    prefix = path.rstrip("/").rsplit("/", 1)[0]
    return JobUrls(urlunsplit((scheme, netloc, f"{prefix}/jobs", "", "")))


def _invalid(detail: str, errors: list[str]) -> func.HttpResponse:
    return problem_response(problem(400, INVALID_REQUEST, "Invalid job request", detail, errors))


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/json", headers=headers
    )
