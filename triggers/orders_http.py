"""The /api/orders routes: the job API for orders, answered in the forms documented for them."""

from __future__ import annotations

from typing import Any, Literal

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from domain.fulfilment import WorkflowResult
from domain.orders import instance_id_for
from domain.payload import InvalidPayload, M, read
from triggers.job_answers import NO_STORE, JobAnswers, iso, json_response, url_above
from triggers.job_types import JobType
from triggers.jobs_http import cancel_job, show_job, start_job
from triggers.order_job import ORDER_JOB, PREFIX
from triggers.problem_details import REFUSALS
from triggers.start_once import Started, runtime_status_of
from triggers.views import OrderAccepted, OrderCommandAccepted, OrderView, WorkflowProgress

bp = df.Blueprint()


class OrderAnswers(JobAnswers):
    """The order routes' answers: the job API's, worded and shaped as documented for orders."""

    span = "start order from http"
    refusals = REFUSALS["orders"]

    def location(self, job_id: str) -> str:
        return self.urls.status(job_id.removeprefix(PREFIX))

    def accepted(self, job_type: JobType, started: Started) -> dict[str, Any]:
        return OrderAccepted(
            order_id=started.instance_id.removeprefix(PREFIX),
            runtime_status=started.runtime_status,
            duplicate=not started.started,
            status_url=self.location(started.instance_id),
        ).dump()

    def view(self, job_type: JobType, status: DurableOrchestrationStatus) -> dict[str, Any]:
        return order_view(status)

    def finished(self, job_type: JobType, status: DurableOrchestrationStatus) -> dict[str, Any]:
        return order_view(status, status_url=self.location(status.instance_id or ""))

    def cancelled(self, job_type: JobType, job_id: str) -> func.HttpResponse:
        return command_accepted(job_id.removeprefix(PREFIX), "cancellation requested")


@bp.function_name("orders_start")
@bp.route(route="orders", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 for a new or running order, 200 with the outcome of a finished one, 400 if invalid."""
    return await start_job(req, client, ORDER_JOB, OrderAnswers(url_above(req, 0)))


@bp.function_name("orders_status")
@bp.route(route="orders/{order_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The workflow's runtime status, step and progress, and its result once it has one."""
    job_id = instance_id_for(req.route_params.get("order_id", ""))
    return await show_job(client, ORDER_JOB, job_id, OrderAnswers(url_above(req, 1)))


@bp.function_name("orders_cancel")
@bp.route(route="orders/{order_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_cancel(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 once CancelOrder is raised; 404 unknown order; 409 finished or already shipping.
    Optional body {"reason": str}."""
    job_id = instance_id_for(req.route_params.get("order_id", ""))
    return await cancel_job(req, client, ORDER_JOB, job_id, OrderAnswers(url_above(req, 2)))


def order_view(status: DurableOrchestrationStatus, **extra: str) -> dict[str, Any]:
    """What callers may see: no input (it holds the order) and no history. Custom status and
    output are shown when they have the workflow's forms (anything else is not the caller's)."""
    output = status.output
    if isinstance(output, str):  # a failed orchestration's error text; the first line is enough
        extra["error"] = output.split(" \n ", 1)[0]
    view = OrderView(
        order_id=(status.instance_id or "").removeprefix(PREFIX),
        runtime_status=runtime_status_of(status),
        custom_status=_as(WorkflowProgress, status.custom_status),
        output=_as(WorkflowResult, output),
        created_time=iso(status.created_time),
        last_updated_time=iso(status.last_updated_time),
        **extra,
    )
    return view.dump()


def _as(model: type[M], value: Any) -> M | None:
    try:
        return read(model, value) if isinstance(value, dict) else None
    except InvalidPayload:
        return None


def command_accepted(
    order_id: str, message: Literal["cancellation requested", "decision accepted"]
) -> func.HttpResponse:
    body = OrderCommandAccepted(order_id=order_id, message=message).dump()
    return json_response(202, body, NO_STORE)
