"""The job API (Asynchronous Request-Reply): start a job, poll its status, cancel it.

POST /api/jobs/{type} answers 202 with `Location` and the app's own status and cancel URLs,
never the extension's management URLs: those carry the system key, which would let any caller
raise events (approve an order), terminate or purge instances. Callers see a job's runtime
status, step, progress and result or error, never the orchestration's input or history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from adapters.telemetry import INSTANCE_ID, job_span
from domain.payload import InvalidPayload, parse_request
from triggers.correlation import InvalidCorrelationId, correlation_id
from triggers.job_registry import JOB_TYPES, job_type_named, job_type_of
from triggers.job_types import JobSubjectNotFound, JobType, StartRequest
from triggers.order_cancel import CancelOutcome, cancel_request
from triggers.problem_details import problem, problem_response
from triggers.views import JobAccepted, JobCancelAccepted, JobView

bp = df.Blueprint()

PROBLEM = "urn:problem-type:jobs:"
UNKNOWN_TYPE = PROBLEM + "unknown-type"
INVALID_REQUEST = PROBLEM + "invalid-request"
NOT_FOUND = PROBLEM + "not-found"
NOT_CANCELLABLE = PROBLEM + "not-cancellable"

RETRY_AFTER_SECONDS = "5"
ACTIVE = frozenset({"Pending", "Running", "Suspended"})
FINISHED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
MAX_ERROR = 500
NO_STORE = {"Cache-Control": "no-store"}


@bp.function_name("jobs_start")
@bp.route(route="jobs/{type}", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def jobs_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 for a new or running job, 200 with the status of a finished one (a duplicate start),
    400 for a body the type cannot run, 404 for an unknown type. Starting is idempotent."""
    job_type = job_type_named(req.route_params.get("type", ""))
    if job_type is None:
        detail = f"There is no job type of this name; known types: {', '.join(sorted(JOB_TYPES))}."
        return problem_response(problem(404, UNKNOWN_TYPE, "Unknown job type", detail))
    return await start_job(req, client, job_type, JobUrls.from_request(req, segments_after_jobs=1))


async def start_job(
    req: func.HttpRequest,
    client: df.DurableOrchestrationClient,
    job_type: JobType,
    urls: JobUrls,
) -> func.HttpResponse:
    """Start a job of `job_type` from the request body and answer as the job API does, with
    `urls` pointing at the job API: 202, 200 for a finished duplicate, 400 for a bad body."""
    try:
        correlation = correlation_id(req)
    except InvalidCorrelationId as invalid:
        return _invalid(
            "The x-correlation-id header is not a valid correlation id.", [str(invalid)]
        )
    try:
        body = parse_request(job_type.request, req.get_body() or b"")
    except InvalidPayload as invalid:
        return _invalid("The request has problems listed in errors.", invalid.problems)
    start = StartRequest(body, datetime.now(UTC), correlation)
    # The instance id is known once the type has started (or found) the job.
    with job_span(
        f"start {job_type.name} job",
        job_type=job_type.name,
        instance_id=None,
        correlation_id=start.correlation_id,
    ) as span:
        try:
            started = await job_type.start(client, start)
        except InvalidPayload as invalid:  # a rule that needs more than the body (settings)
            return _invalid("The request has problems listed in errors.", invalid.problems)
        except JobSubjectNotFound as missing:
            return problem_response(problem(404, NOT_FOUND, "Not found", str(missing)))
        span.set_attribute(INSTANCE_ID, started.job_id)

    headers = {"Location": urls.status(started.job_id), **NO_STORE}
    if started.runtime_status in FINISHED:
        status = await client.get_status(started.job_id)
        if status:  # falsy only if its history was purged since the start looked
            return _json(200, job_view(job_type, status, urls), headers)
    cancel = {} if job_type.cancel is None else {"cancel_url": urls.cancel(started.job_id)}
    accepted = JobAccepted(
        id=started.job_id,
        type=job_type.name,
        runtime_status=started.runtime_status,
        duplicate=started.duplicate,
        status_url=urls.status(started.job_id),
        **cancel,
    )
    return _json(202, accepted.dump(), {**headers, "Retry-After": RETRY_AFTER_SECONDS})


@bp.function_name("jobs_status")
@bp.route(route="jobs/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def jobs_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """200 with the job's status, step, progress and result or error; 404 if there is none."""
    job_id = req.route_params.get("id", "")
    job_type = job_type_of(job_id)
    status = await client.get_status(job_id) if job_type is not None else None
    # The name check keeps other orchestrations in the task hub out of sight, whatever their id.
    if job_type is None or not status or status.name != job_type.orchestrator:
        return _not_found()
    urls = JobUrls.from_request(req, segments_after_jobs=1)
    return _json(200, job_view(job_type, status, urls), NO_STORE)


@bp.function_name("jobs_cancel")
@bp.route(route="jobs/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def jobs_cancel(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 once cancellation is requested; 404 unknown job; 409 finished or past cancelling.

    Optional body {"reason": str}. For orders this is POST /api/orders/{order_id}/cancel.
    """
    job_id = req.route_params.get("id", "")
    job_type = job_type_of(job_id)
    if job_type is None:
        return _not_found()
    try:
        cancel = cancel_request(req)
    except InvalidPayload as invalid:
        return _invalid("The body has problems listed in errors.", invalid.problems)
    outcome = (
        await job_type.cancel(client, job_id, cancel.effective_reason)
        if job_type.cancel is not None
        else CancelOutcome.NOT_CANCELLABLE
    )
    if outcome is CancelOutcome.NOT_FOUND:
        return _not_found()
    if outcome is CancelOutcome.NOT_CANCELLABLE:
        detail = "The job has finished or is past the point where it can be cancelled."
        return problem_response(problem(409, NOT_CANCELLABLE, "Job not cancellable", detail))
    urls = JobUrls.from_request(req, segments_after_jobs=2)
    body = JobCancelAccepted(
        id=job_id,
        type=job_type.name,
        message="cancellation requested",
        status_url=urls.status(job_id),
    )
    return _json(202, body.dump(), {"Location": urls.status(job_id), **NO_STORE})


def job_view(
    job_type: JobType, status: DurableOrchestrationStatus, urls: JobUrls
) -> dict[str, Any]:
    """What callers may see of a job: no input (it may reference personal data), no history."""
    runtime = status.runtime_status.value if status.runtime_status else "Pending"
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    step, progress = custom.get("step"), custom.get("progress")
    job_id = status.instance_id or ""
    extra: dict[str, Any] = {}
    output = status.output
    if isinstance(output, dict):
        extra["result"] = output
    elif isinstance(output, str) and runtime in ("Failed", "Terminated") and output.strip():
        # A failed orchestration's output is its error text and stack; the first line is enough.
        extra["error"] = output.strip().splitlines()[0].strip()[:MAX_ERROR]
    if runtime in ACTIVE and job_type.cancel is not None:
        extra["cancel_url"] = urls.cancel(job_id)
    view = JobView(
        id=job_id,
        type=job_type.name,
        runtime_status=runtime,
        step=step if isinstance(step, str) else None,
        progress=progress if _is_percentage(progress) else None,
        created_time=_iso(status.created_time),
        last_updated_time=_iso(status.last_updated_time),
        status_url=urls.status(job_id),
        **extra,
    )
    return view.dump()


class JobUrls:
    """The app's own job URLs on the host the caller used, without the caller's query string
    (which may hold its function key)."""

    def __init__(self, base: str) -> None:
        self.base = base

    @classmethod
    def from_request(cls, req: func.HttpRequest, *, segments_after_jobs: int) -> JobUrls:
        scheme, netloc, path, _, _ = urlsplit(req.url)
        jobs_path = path.rstrip("/").rsplit("/", segments_after_jobs)[0]
        return cls(urlunsplit((scheme, netloc, jobs_path, "", "")))

    def status(self, job_id: str) -> str:
        return f"{self.base}/{quote(job_id, safe='')}"

    def cancel(self, job_id: str) -> str:
        return f"{self.status(job_id)}/cancel"


def _is_percentage(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _invalid(detail: str, errors: list[str]) -> func.HttpResponse:
    return problem_response(problem(400, INVALID_REQUEST, "Invalid job request", detail, errors))


def _not_found() -> func.HttpResponse:
    detail = "No job with this id has been started (or its history was purged)."
    return problem_response(problem(404, NOT_FOUND, "Job not found", detail))


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/json", headers=headers
    )
