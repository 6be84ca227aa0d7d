"""POST /api/monitors: start a monitor of an external operation; it is a job of type `monitor`.

The same start as POST /api/jobs/monitor, and the same answers: 202 with this app's job status
and cancel URLs (GET /api/jobs/{id}, POST /api/jobs/{id}/cancel), 200 with the status of a
monitor id that already finished, 400 problem details for a body that cannot run.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from triggers.jobs_http import JobUrls, start_job
from triggers.monitor_job import MONITOR_JOB

bp = df.Blueprint()


@bp.function_name("monitors_start")
@bp.route(route="monitors", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def monitors_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await start_job(req, client, MONITOR_JOB, job_urls(req))


def job_urls(req: func.HttpRequest) -> JobUrls:
    """The job API's URLs (…/api/jobs) next to this route (…/api/monitors), on the caller's
    host and without its query string (which may hold its function key)."""
    scheme, netloc, path, _, _ = urlsplit(req.url)
    prefix = path.rstrip("/").rsplit("/", 1)[0]
    return JobUrls(urlunsplit((scheme, netloc, f"{prefix}/jobs", "", "")))
