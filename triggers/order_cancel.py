"""Cancelling an order's workflow, shared by POST /api/orders/{id}/cancel and the job API."""

from __future__ import annotations

import logging
from enum import StrEnum

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from domain.fulfilment import NOT_CANCELLABLE, CancelRequest
from domain.orders import ORDER_ID, instance_id_for
from domain.payload import parse_request
from orchestrators.cancellation import CANCEL_EVENT

logger = logging.getLogger(__name__)

RUNNING = frozenset({"Pending", "Running"})


class CancelOutcome(StrEnum):
    """What a cancellation request came to; each caller maps it to its own HTTP answer."""

    REQUESTED = "requested"
    NOT_FOUND = "not_found"
    NOT_CANCELLABLE = "not_cancellable"


async def find_order(
    client: df.DurableOrchestrationClient, order_id: str
) -> DurableOrchestrationStatus | None:
    """The order's orchestration status, or None for a malformed id or no such instance."""
    if not ORDER_ID.fullmatch(order_id):
        return None
    status = await client.get_status(instance_id_for(order_id))
    return status if status else None  # falsy when there is no such instance


def runtime_status_of(status: DurableOrchestrationStatus) -> str:
    return status.runtime_status.value if status.runtime_status else "Pending"


def step_of(status: DurableOrchestrationStatus) -> str | None:
    custom = status.custom_status
    return custom.get("step") if isinstance(custom, dict) else None


def cancel_request(req: func.HttpRequest) -> CancelRequest:
    """The request's optional body (none, or whitespace only, is a request without a reason)."""
    raw = req.get_body() or b""
    return parse_request(CancelRequest, raw) if raw.strip() else CancelRequest()


async def request_cancellation(
    client: df.DurableOrchestrationClient, order_id: str, reason: str
) -> CancelOutcome:
    """Raise CancelOrder on a running order that has not started shipping.

    An event, never a terminate: the workflow undoes what it did (orchestrators/cancellation.py).
    """
    status = await find_order(client, order_id)
    if status is None:
        return CancelOutcome.NOT_FOUND
    if runtime_status_of(status) not in RUNNING or step_of(status) in NOT_CANCELLABLE:
        return CancelOutcome.NOT_CANCELLABLE
    await client.raise_event(instance_id_for(order_id), CANCEL_EVENT, {"reason": reason})
    logger.info("Cancellation requested for order %s", order_id)
    return CancelOutcome.REQUESTED
