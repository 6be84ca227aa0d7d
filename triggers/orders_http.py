"""POST /api/orders starts an order's workflow; GET /api/orders/{order_id} reports on it.

Asynchronous Request-Reply: a start answers 202 with the app's own status URL, never the
extension's management URLs (they carry the system key, which would let any caller raise
events, approve orders or terminate instances).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from adapters.telemetry import job_span
from domain.fulfilment import WorkflowResult
from domain.order_requests import OrderRequest
from domain.orders import ORDER_ID, instance_id_for
from domain.payload import InvalidPayload, M, parse_request, read
from orchestrators.order_workflow import JOB_TYPE as ORDER_JOB_TYPE
from triggers.correlation import InvalidCorrelationId, correlation_id
from triggers.order_intake import http_order_routing
from triggers.order_start import start_order
from triggers.problem_details import (
    INVALID_ORDER,
    INVALID_REQUEST,
    NOT_FOUND,
    problem,
    problem_response,
)
from triggers.views import OrderAccepted, OrderView, WorkflowProgress

bp = df.Blueprint()

RETRY_AFTER_SECONDS = "5"
FINISHED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


@bp.function_name("orders_start")
@bp.route(route="orders", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 for a new or running order, 200 with the outcome of a finished one, 400 if invalid."""
    try:
        correlation = correlation_id(req)
    except InvalidCorrelationId as invalid:
        detail = "The x-correlation-id header is not a valid correlation id."
        return problem_response(
            problem(400, INVALID_REQUEST, "Invalid request", detail, [str(invalid)])
        )
    try:
        request = parse_request(OrderRequest, req.get_body() or b"")
        routing = http_order_routing(request)
    except InvalidPayload as invalid:
        return _invalid("The order has problems listed in errors.", invalid.problems)

    order_id = request.order_id
    with job_span(
        "start order from http",
        job_type=ORDER_JOB_TYPE,
        instance_id=instance_id_for(order_id),
        correlation_id=correlation,
    ):
        outcome = await start_order(
            client,
            request,
            received_at=datetime.now(UTC),
            correlation_id=correlation,
            routing=routing,
        )
    status_url = _status_url(req, order_id)
    headers = {"Location": status_url, "Cache-Control": "no-store"}
    if outcome.runtime_status in FINISHED:
        status = await client.get_status(outcome.instance_id)
        return _json(200, status_view(order_id, status, status_url=status_url), headers)
    accepted = OrderAccepted(
        order_id=order_id,
        runtime_status=outcome.runtime_status,
        duplicate=not outcome.started,
        status_url=status_url,
    )
    return _json(202, accepted.dump(), {**headers, "Retry-After": RETRY_AFTER_SECONDS})


@bp.function_name("orders_status")
@bp.route(route="orders/{order_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The workflow's runtime status, step and progress, and its result once it has one."""
    order_id = req.route_params.get("order_id", "")
    status = (
        await client.get_status(instance_id_for(order_id)) if ORDER_ID.fullmatch(order_id) else None
    )
    if not status:
        detail = "No order with this id has been started (or its history was purged)."
        return problem_response(problem(404, NOT_FOUND, "Order not found", detail))
    return _json(200, status_view(order_id, status), {"Cache-Control": "no-store"})


def status_view(order_id: str, status: DurableOrchestrationStatus, **extra: str) -> dict[str, Any]:
    """What callers may see: no input (it holds the order) and no history. Custom status and
    output are shown when they have the workflow's forms (anything else is not the caller's)."""
    output = status.output
    if isinstance(output, str):  # a failed orchestration's error text; the first line is enough
        extra["error"] = output.split(" \n ", 1)[0]
    view = OrderView(
        order_id=order_id,
        runtime_status=status.runtime_status.value if status.runtime_status else None,
        custom_status=_as(WorkflowProgress, status.custom_status),
        output=_as(WorkflowResult, output),
        created_time=_iso(status.created_time),
        last_updated_time=_iso(status.last_updated_time),
        **extra,
    )
    return view.dump()


def _as(model: type[M], value: Any) -> M | None:
    try:
        return read(model, value) if isinstance(value, dict) else None
    except InvalidPayload:
        return None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _status_url(req: func.HttpRequest, order_id: str) -> str:
    """This app's GET route for the order, on the host the caller used, without the caller's
    query string (which may hold its function key)."""
    scheme, netloc, path, _, _ = urlsplit(req.url)
    return urlunsplit((scheme, netloc, f"{path.rstrip('/')}/{quote(order_id)}", "", ""))


def _invalid(detail: str, errors: list[str] | None) -> func.HttpResponse:
    body = problem(400, INVALID_ORDER, "Invalid order", detail, errors or [])
    return problem_response(body)


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/json", headers=headers
    )
