"""POST /api/orders/{order_id}/approval: an approver's decision, raised as the workflow's event.

A signed, expiring token proves who decides (domain/approval_tokens.py): the approver id comes
from the token, never the body. The order is looked up as the job API looks up every job.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

import app_config
from domain.approval_tokens import InvalidApprovalToken, TokenForAnotherOrder, verify
from domain.fulfilment import AWAITING_DECISION, ApprovalRequest
from domain.orders import instance_id_for
from domain.payload import InvalidPayload, parse_request
from orchestrators.approval import APPROVAL_EVENT
from triggers.job_answers import url_above
from triggers.jobs_http import RUNNING, find_job, step_of
from triggers.order_job import ORDER_JOB
from triggers.orders_http import CONFLICT, INVALID_REQUEST, PROBLEM, OrderAnswers, command_accepted
from triggers.start_once import runtime_status_of

logger = logging.getLogger(__name__)

bp = df.Blueprint()

UNAUTHORIZED = PROBLEM + "unauthorized"
FORBIDDEN = PROBLEM + "forbidden"
UNAVAILABLE = PROBLEM + "approvals-unavailable"


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
    answers = OrderAnswers(url_above(req, 2))
    try:
        key = app_config.approval_signing_key()
    except ValueError as missing:
        logger.error("Approvals refused: %s", missing)
        detail = "Approvals are not configured on this instance."
        return answers.refuse((503, UNAVAILABLE, "Approvals unavailable", detail))
    try:
        body = parse_request(ApprovalRequest, req.get_body() or b"")
    except InvalidPayload as invalid:
        detail = 'The body must be a JSON object with "approved" (true or false) and "token".'
        return answers.refuse((400, INVALID_REQUEST, "Invalid approval", detail), invalid.problems)
    if not body.token:
        return _unauthorized(answers, "An approval token is required.")
    try:
        approver = verify(body.token, order_id, datetime.now(UTC), key)
    except TokenForAnotherOrder:
        detail = "The approval token is for another order."
        return answers.refuse((403, FORBIDDEN, "Forbidden", detail))
    except InvalidApprovalToken as invalid:
        # %r: the id comes from the URL, and a decoded CR or LF must not start a new log line.
        logger.warning("Approval for order %r refused: %s", order_id, invalid)
        return _unauthorized(
            answers, "The approval token is not valid (malformed, forged or expired)."
        )
    status = await find_job(client, ORDER_JOB, instance_id_for(order_id))
    if status is None:
        return answers.refuse(answers.not_found)
    if runtime_status_of(status) not in RUNNING or step_of(status) not in AWAITING_DECISION:
        detail = "The order is not waiting for an approval decision."
        return answers.refuse((409, CONFLICT, "Not awaiting approval", detail))
    decision = body.decision(approver).dump()
    await client.raise_event(instance_id_for(order_id), APPROVAL_EVENT, decision)
    logger.info("Approval decision raised for order %s", order_id)
    return command_accepted(order_id, "decision accepted")


def _unauthorized(answers: OrderAnswers, detail: str) -> func.HttpResponse:
    response = answers.refuse((401, UNAUTHORIZED, "Unauthorized", detail))
    response.headers["WWW-Authenticate"] = 'Bearer realm="order-approval"'
    return response
