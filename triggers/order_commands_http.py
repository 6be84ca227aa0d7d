"""POST /api/orders/{order_id}/cancel and /approval: raise the workflow's events, checked first."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

import azure.durable_functions as df
import azure.functions as func

import app_config
from domain.approval_tokens import InvalidApprovalToken, TokenForAnotherOrder, verify
from domain.fulfilment import AWAITING_DECISION, ApprovalRequest
from domain.orders import instance_id_for
from domain.payload import InvalidPayload, parse_request
from orchestrators.approval import APPROVAL_EVENT
from triggers.order_cancel import (
    RUNNING,
    CancelOutcome,
    cancel_request,
    find_order,
    request_cancellation,
    runtime_status_of,
    step_of,
)
from triggers.problem_details import (
    INVALID_REQUEST,
    MEDIA_TYPE,
    NOT_FOUND,
    problem,
    problem_response,
)
from triggers.views import OrderCommandAccepted

logger = logging.getLogger(__name__)

bp = df.Blueprint()

PROBLEM = "urn:problem-type:orders:"
CONFLICT = PROBLEM + "conflict"
UNAUTHORIZED = PROBLEM + "unauthorized"
FORBIDDEN = PROBLEM + "forbidden"
UNAVAILABLE = PROBLEM + "approvals-unavailable"


@bp.function_name("orders_cancel")
@bp.route(route="orders/{order_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_cancel(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 once CancelOrder is raised; 404 unknown order; 409 finished or already shipping.

    An event, never a terminate: the workflow undoes what it did. Optional body {"reason": str}.
    """
    order_id = req.route_params.get("order_id", "")
    try:
        cancel = cancel_request(req)
    except InvalidPayload as invalid:
        detail = "The body has problems listed in errors."
        return _invalid("Invalid cancellation", detail, invalid.problems)
    outcome = await request_cancellation(client, order_id, cancel.effective_reason)
    if outcome is CancelOutcome.NOT_FOUND:
        return _not_found()
    if outcome is CancelOutcome.NOT_CANCELLABLE:
        detail = (
            "The order has finished or is already being shipped; it can no longer be cancelled."
        )
        return problem_response(problem(409, CONFLICT, "Order not cancellable", detail))
    return _accepted(order_id, "cancellation requested")


@bp.function_name("orders_approval")
@bp.route(route="orders/{order_id}/approval", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_approval(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Body {"approved": bool, "token": str, "reason"?: str}. The token (domain.approval_tokens)
    proves who decides: 401 missing or invalid, 403 for another order; then 404 unknown order,
    409 not awaiting approval, 503 no signing key configured; else 202."""
    order_id = req.route_params.get("order_id", "")
    key = app_config.approval_signing_key()
    if key is None:
        logger.error("Approvals refused: APPROVAL_SIGNING_KEY is missing or too short")
        detail = "Approvals are not configured on this instance."
        return problem_response(problem(503, UNAVAILABLE, "Approvals unavailable", detail))
    try:
        body = parse_request(ApprovalRequest, req.get_body() or b"")
    except InvalidPayload as invalid:
        detail = 'The body must be a JSON object with "approved" (true or false) and "token".'
        return _invalid("Invalid approval", detail, invalid.problems)
    token = body.token
    if not token:
        return _unauthorized("An approval token is required.")
    try:
        approver = verify(token, order_id, datetime.now(UTC), key)
    except TokenForAnotherOrder:
        detail = "The approval token is for another order."
        return problem_response(problem(403, FORBIDDEN, "Forbidden", detail))
    except InvalidApprovalToken as invalid:
        # %r: the id comes from the URL, and a decoded CR or LF must not start a new log line.
        logger.warning("Approval for order %r refused: %s", order_id, invalid)
        return _unauthorized("The approval token is not valid (malformed, forged or expired).")
    status = await find_order(client, order_id)
    if status is None:
        return _not_found()
    if runtime_status_of(status) not in RUNNING or step_of(status) not in AWAITING_DECISION:
        detail = "The order is not waiting for an approval decision."
        return problem_response(problem(409, CONFLICT, "Not awaiting approval", detail))
    decision = body.decision(approver).dump()
    await client.raise_event(instance_id_for(order_id), APPROVAL_EVENT, decision)
    logger.info("Approval decision raised for order %s", order_id)
    return _accepted(order_id, "decision accepted")


def _invalid(title: str, detail: str, errors: list[str]) -> func.HttpResponse:
    return problem_response(problem(400, INVALID_REQUEST, title, detail, errors))


def _not_found() -> func.HttpResponse:
    detail = "No order with this id has been started (or its history was purged)."
    return problem_response(problem(404, NOT_FOUND, "Order not found", detail))


def _unauthorized(detail: str) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(problem(401, UNAUTHORIZED, "Unauthorized", detail)),
        status_code=401,
        mimetype=MEDIA_TYPE,
        charset="utf-8",
        headers={"WWW-Authenticate": 'Bearer realm="order-approval"'},
    )


def _accepted(
    order_id: str, message: Literal["cancellation requested", "decision accepted"]
) -> func.HttpResponse:
    body = OrderCommandAccepted(order_id=order_id, message=message).dump()
    return func.HttpResponse(
        json.dumps(body),
        status_code=202,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )
