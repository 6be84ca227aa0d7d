"""POST /api/orders/{order_id}/approval: an approver's decision, raised as the workflow's event."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

import app_config
from adapters.factory import root
from domain.approval_tokens import InvalidApprovalToken, TokenForAnotherOrder, verify
from domain.fulfilment import AWAITING_DECISION, ApprovalDecision, ApprovalRequest
from domain.orders import instance_id_for
from domain.payload import InvalidPayload, parse_request
from orchestrators.approval import APPROVAL_EVENT
from triggers.job_answers import url_above
from triggers.jobs_http import RUNNING, find_job
from triggers.order_job import ORDER_JOB
from triggers.orders_http import OrderAnswers, command_accepted
from triggers.start_once import runtime_status_of, step_of
from triggers.task_hubs import client_for

logger = logging.getLogger(__name__)

bp = df.Blueprint()


@bp.function_name("orders_approval")
@bp.route(route="orders/{order_id}/approval", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def orders_approval(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Body {"approved": bool, "token": str, "reason"?: str}. The signed, expiring token
    (domain.approval_tokens) proves who decides, never the body: 401 missing or invalid, 403
    for another order; then 404 unknown order, 409 not awaiting approval or already decided,
    503 no signing key configured; else 202."""
    order_id = req.route_params.get("order_id", "")
    answers = OrderAnswers(url_above(req, 2))
    try:
        key = app_config.approval_signing_key()
    except ValueError as missing:
        logger.error("Approvals refused: %s", missing)
        return answers.refuse("approvals_unavailable")
    try:
        body = parse_request(ApprovalRequest, req.get_body() or b"")
    except InvalidPayload as invalid:
        return answers.refuse("bad_approval", invalid.problems)
    if not body.token:
        return unauthorized(answers.refuse("no_token"))
    try:
        approver = verify(body.token, order_id, datetime.now(UTC), key)
    except TokenForAnotherOrder:
        return answers.refuse("token_for_another_order")
    except InvalidApprovalToken as invalid:
        # %r: the id comes from the URL, and a decoded CR or LF must not start a new log line.
        logger.warning("Approval for order %r refused: %s", order_id, invalid)
        return unauthorized(answers.refuse("bad_token"))
    refusal = await decide(client, order_id, body.decision(approver))
    if refusal is not None:
        return answers.refuse(refusal)
    return command_accepted(order_id, "decision accepted")


async def decide(
    client: df.DurableOrchestrationClient, order_id: str, decision: ApprovalDecision
) -> str | None:
    """Raise `decision` as the order's approval event, once per order: None when raised, else
    the refusal's name (not_found, not_awaiting_approval, already_decided, not_raised). The
    claim row decides between two approvers or two clicks; the workflow waits for one event."""
    status = await find_job(client, ORDER_JOB, instance_id_for(order_id))
    if status is None:
        return "not_found"
    if runtime_status_of(status) not in RUNNING or step_of(status) not in AWAITING_DECISION:
        return "not_awaiting_approval"
    orders = root.orders().orders
    approver = decision.approver or ""
    if not await asyncio.to_thread(orders.claim_decision, order_id, approver, decision.approved):
        return "already_decided"
    try:
        hub_client = await client_for(client, instance_id_for(order_id))
        await hub_client.raise_event(instance_id_for(order_id), APPROVAL_EVENT, decision.dump())
    except Exception:
        logger.exception("Approval decision for order %s not raised; claim released", order_id)
        await asyncio.to_thread(orders.release_decision, order_id)
        return "not_raised"
    logger.info("Approval decision raised for order %s", order_id)
    return None


def unauthorized(response: func.HttpResponse) -> func.HttpResponse:
    """A 401 says how to authenticate: with an approval token (RFC 9110, 11.6.1)."""
    response.headers["WWW-Authenticate"] = 'Bearer realm="order-approval"'
    return response
