"""The approval page: an approver opens an emailed link and decides, with nothing but a browser.

The link is https://<host>/api/approvals#<token>. Browsers never send a fragment, so the token
is in no request line, log, telemetry or Referer: the page's script reads it and POSTs it in a
body. A GET changes nothing, so a mail scanner that fetches links decides nothing. The token
(domain.approval_tokens) alone authorises; the routes are anonymous.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

import app_config
from adapters.factory import root
from adapters.templates import TEMPLATES, WEB
from domain.approval_tokens import InvalidApprovalToken, TokenClaims, read_claims
from domain.fulfilment import (
    AWAITING_DECISION,
    MAX_DECISION_REASON,
    ApprovalLinkDecision,
    ApprovalLinkRequest,
    WorkflowInput,
)
from domain.orders import instance_id_for
from domain.payload import InvalidPayload, parse_request, read
from triggers.jobs_http import RUNNING
from triggers.order_approval_http import decide, unauthorized
from triggers.order_job import ORDER_JOB
from triggers.problem_details import REFUSALS, problem, problem_response
from triggers.start_once import runtime_status_of, step_of
from triggers.task_hubs import client_for
from triggers.views import ApprovalSummary, OrderCommandAccepted

logger = logging.getLogger(__name__)

bp = df.Blueprint()

# On every answer of these routes: nothing cached, no Referer, no sniffing, no framing, and
# scripts, styles and form posts from this origin only (no inline script at all).
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}
ASSETS = {
    "approval.js": "text/javascript; charset=utf-8",
    "approval.css": "text/css; charset=utf-8",
}
# Set by App Service Authentication (Easy Auth), which strips it from incoming requests.
SIGNED_IN_NAME = "X-MS-CLIENT-PRINCIPAL-NAME"

Body = TypeVar("Body", bound=ApprovalLinkRequest)


def _secured(response: func.HttpResponse) -> func.HttpResponse:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def _refuse(name: str, errors: list[str] | None = None) -> func.HttpResponse:
    response = _secured(problem_response(problem(*REFUSALS["orders"][name], errors)))
    return unauthorized(response) if response.status_code == 401 else response


@bp.function_name("approval_page")
@bp.route(route="approvals", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def approval_page(req: func.HttpRequest) -> func.HttpResponse:
    """The page itself: the same HTML for everyone, whatever the link."""
    assets = urlsplit(req.url).path.rstrip("/") + "/assets"
    html = TEMPLATES.get_template("approval.html").render(
        title="Order approval", assets=assets, max_reason=MAX_DECISION_REASON
    )
    return _secured(func.HttpResponse(html, mimetype="text/html", charset="utf-8"))


@bp.function_name("approval_asset")
@bp.route(route="approvals/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def approval_asset(req: func.HttpRequest) -> func.HttpResponse:
    """The page's script and style sheet; any other name is 404."""
    name = req.route_params.get("name", "")
    if name not in ASSETS:
        return _secured(func.HttpResponse(status_code=404))
    response = func.HttpResponse((WEB / name).read_bytes())
    response.headers["Content-Type"] = ASSETS[name]
    return _secured(response)


def _claims(
    req: func.HttpRequest, model: type[Body]
) -> tuple[Body, TokenClaims] | func.HttpResponse:
    """The body and the token's claims, or the refusal: 503 no key, 400 bad body, 401 token."""
    try:
        key = app_config.approval_signing_key()
    except ValueError as missing:
        logger.error("Approvals refused: %s", missing)
        return _refuse("approvals_unavailable")
    try:
        body = parse_request(model, req.get_body() or b"")
    except InvalidPayload as invalid:
        return _refuse("bad_approval_page", invalid.problems)
    try:
        claims = read_claims(body.token, datetime.now(UTC), key)
    except InvalidApprovalToken as invalid:
        logger.warning("Approval link refused: %s", invalid)
        return _refuse("bad_token")
    return body, claims


@bp.function_name("approval_summary")
@bp.route(route="approvals/summary", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def approval_summary(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Body {"token"}: what the approver needs to decide (ApprovalSummary); reads only."""
    checked = _claims(req, ApprovalLinkRequest)
    if isinstance(checked, func.HttpResponse):
        return checked
    _, claims = checked
    instance_id = instance_id_for(claims.order_id)
    status = await (await client_for(client, instance_id)).get_status(instance_id, show_input=True)
    if status is None or status.name != ORDER_JOB.orchestrator or status.input_ is None:
        return _refuse("not_found")
    given = status.input_  # the SDK hands it over parsed or as JSON text, by version
    run = read(WorkflowInput, json.loads(given) if isinstance(given, str) else given)
    order, threshold = run.order, run.approval.threshold_cents
    waiting = runtime_status_of(status) in RUNNING and step_of(status) in AWAITING_DECISION
    decided = await asyncio.to_thread(root.orders().orders.decision_of, claims.order_id)
    now = datetime.now(UTC)
    summary = ApprovalSummary(
        order_id=order.order_id,
        approver=claims.approver,
        total_cents=order.total_cents,
        currency=order.currency,
        lines=order.lines,
        why="The total is at or above the approval threshold.",
        threshold_cents=threshold,
        expires_at=claims.expires_at.isoformat(),
        seconds_left=max(0, int((claims.expires_at - now).total_seconds())),
        awaiting_decision=waiting and decided is None,
        decision=None if decided is None else ("approved" if decided else "rejected"),
    )
    return _secured(func.HttpResponse(summary.model_dump_json(), mimetype="application/json"))


@bp.function_name("approval_decision")
@bp.route(route="approvals/decision", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def approval_decision(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Body {"token", "approved", "reason"?}: 202 decided; 401 token invalid or expired; 403 not
    signed in as the approver (APPROVAL_REQUIRE_SIGNED_IN); 404 unknown order; 409 not waiting
    or already decided; 503 not configured or not delivered. A refusal changes nothing."""
    checked = _claims(req, ApprovalLinkDecision)
    if isinstance(checked, func.HttpResponse):
        return checked
    body, claims = checked
    settings = app_config.approval_settings()
    if settings.require_signed_in:
        approver = settings.approver(claims.approver)
        signed_in = (req.headers.get(SIGNED_IN_NAME) or "").strip().lower()
        if approver is None or signed_in != approver.email.lower():
            return _refuse("not_signed_in_approver")
    decision = body.decision(claims.approver)
    refusal = await decide(client, claims.order_id, decision)
    if refusal is not None:
        return _refuse(refusal)
    accepted = OrderCommandAccepted(order_id=claims.order_id, message="decision accepted")
    response = func.HttpResponse(accepted.model_dump_json(), status_code=202)
    response.headers["Content-Type"] = "application/json"
    return _secured(response)
