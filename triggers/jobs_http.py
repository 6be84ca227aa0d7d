"""The job API (Asynchronous Request-Reply): start a job, poll its status, cancel it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from adapters.telemetry import INSTANCE_ID, job_span
from domain.fulfilment import CancelRequest
from domain.payload import InvalidPayload, parse_request
from triggers.correlation import InvalidCorrelationId, correlation_id
from triggers.job_answers import (
    NO_STORE,
    NOT_FOUND,
    UNKNOWN_TYPE,
    JobAnswers,
    json_response,
    url_above,
)
from triggers.job_registry import JOB_TYPES, job_type_of
from triggers.job_types import JobSubjectNotFound, JobType, StartRequest
from triggers.problem_details import problem, problem_response
from triggers.start_once import runtime_status_of, step_of
from triggers.task_hubs import client_for

logger = logging.getLogger(__name__)

bp = df.Blueprint()

RETRY_AFTER_SECONDS = "5"
# Still running, so a cancel (or an approval) can reach it; ContinuedAsNew: between two runs of
# a monitor.
RUNNING = frozenset({"Pending", "Running", "ContinuedAsNew"})
FINISHED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


@bp.function_name("jobs_start")
@bp.route(route="jobs/{type}", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def jobs_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 for a new or running job, 200 with the status of a finished one (a duplicate start),
    400 for a body the type cannot run, 404 for an unknown type. Starting is idempotent."""
    job_type = JOB_TYPES.get(req.route_params.get("type", ""))
    if job_type is None:
        detail = f"There is no job type of this name; known types: {', '.join(sorted(JOB_TYPES))}."
        return problem_response(problem(404, UNKNOWN_TYPE, "Unknown job type", detail))
    return await start_job(req, client, job_type, JobAnswers(url_above(req, 1)))


@bp.function_name("monitors_start")
@bp.route(route="monitors", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def monitors_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """POST /api/monitors: POST /api/jobs/monitor under its own name, with the same answers."""
    return await start_job(
        req, client, JOB_TYPES["monitor"], JobAnswers(url_above(req, 1, "/jobs"))
    )


async def start_job(
    req: func.HttpRequest,
    client: df.DurableOrchestrationClient,
    job_type: JobType,
    answers: JobAnswers,
) -> func.HttpResponse:
    """Start a job of `job_type` from the request body: 202, 200 for a finished duplicate, 400
    for a body or header it cannot run with. The one implementation of start; POST /api/monitors
    and POST /api/orders are aliases. The URLs answered are the app's own, never the extension's
    management URLs: those carry the system key, which would let any caller raise events
    (approve an order), terminate or purge instances."""
    try:
        correlation = correlation_id(req)
    except InvalidCorrelationId as invalid:
        return answers.refuse("bad_correlation", [str(invalid)])
    try:
        body = parse_request(job_type.request, req.get_body() or b"")
    except InvalidPayload as invalid:
        return answers.refuse("bad_body", invalid.problems)
    start = StartRequest(body, datetime.now(UTC), correlation)
    # The instance id is known once the type has started (or found) the job.
    with job_span(
        answers.span.format(type=job_type.name),
        job_type=job_type.name,
        instance_id=None,
        correlation_id=correlation,
    ) as span:
        try:
            started = await job_type.start(client, start)
        except InvalidPayload as invalid:  # a rule that needs more than the body (settings)
            return answers.refuse("bad_body", invalid.problems)
        except JobSubjectNotFound as missing:
            return problem_response(problem(404, NOT_FOUND, "Not found", str(missing)))
        span.set_attribute(INSTANCE_ID, started.instance_id)

    headers = {"Location": answers.location(started.instance_id), **NO_STORE}
    if started.runtime_status in FINISHED:
        status = await (await client_for(client, started.instance_id)).get_status(
            started.instance_id
        )
        if status:  # falsy only if its history was purged since the start looked
            return json_response(200, answers.finished(job_type, status), headers)
    retry = {"Retry-After": RETRY_AFTER_SECONDS}
    return json_response(202, answers.accepted(job_type, started), {**headers, **retry})


@bp.function_name("jobs_status")
@bp.route(route="jobs/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def jobs_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """200 with the job's status, step, progress and result or error; 404 if there is none."""
    job_id = req.route_params.get("id", "")
    return await show_job(client, job_type_of(job_id), job_id, JobAnswers(url_above(req, 1)))


async def show_job(
    client: df.DurableOrchestrationClient,
    job_type: JobType | None,
    job_id: str,
    answers: JobAnswers,
) -> func.HttpResponse:
    status = await find_job(client, job_type, job_id)
    if job_type is None or status is None:
        return answers.refuse("not_found")
    return json_response(200, answers.view(job_type, status), NO_STORE)


async def find_job(
    client: df.DurableOrchestrationClient, job_type: JobType | None, job_id: str
) -> DurableOrchestrationStatus | None:
    """The job's status, from the task hub that runs it; None for an id its type could not have
    given, or no such job. The name check keeps other orchestrations in the hub out of sight,
    whatever their id."""
    if job_type is None or not job_type.owns(job_id):
        return None
    status = await (await client_for(client, job_id)).get_status(job_id)
    return status if status and status.name == job_type.orchestrator else None


@bp.function_name("jobs_cancel")
@bp.route(route="jobs/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def jobs_cancel(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 once cancellation is requested; 404 unknown job; 409 finished or past cancelling.
    Optional body {"reason": str}."""
    job_id = req.route_params.get("id", "")
    job_type = job_type_of(job_id)
    answers = JobAnswers(url_above(req, 2))
    if job_type is None:
        return answers.refuse("not_found")
    return await cancel_job(req, client, job_type, job_id, answers)


async def cancel_job(
    req: func.HttpRequest,
    client: df.DurableOrchestrationClient,
    job_type: JobType,
    job_id: str,
    answers: JobAnswers,
) -> func.HttpResponse:
    """Raise the job's cancel event if it is running and not past cancelling.

    An event, never a terminate: the job ends its own way (an order undoes what it did,
    orchestrators/cancellation.py; a monitor reports `cancelled`).
    """
    raw = req.get_body() or b""
    try:  # The body is optional: none, or white space only, is a cancel without a reason.
        cancel = parse_request(CancelRequest, raw) if raw.strip() else CancelRequest()
    except InvalidPayload as invalid:
        return answers.refuse("bad_cancel", invalid.problems)
    if job_type.cancel_event is None:
        return answers.refuse("not_cancellable")
    status = await find_job(client, job_type, job_id)
    if status is None:
        return answers.refuse("not_found")
    if (
        runtime_status_of(status) not in RUNNING
        or step_of(status) in job_type.not_cancellable_steps
    ):
        return answers.refuse("not_cancellable")
    hub_client = await client_for(client, job_id)
    await hub_client.raise_event(job_id, job_type.cancel_event, {"reason": cancel.effective_reason})
    logger.info("Cancellation requested for %s", job_id)
    return answers.cancelled(job_type, job_id)
