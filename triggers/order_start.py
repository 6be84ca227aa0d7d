"""Starts an order's workflow at most once, whoever asks (HTTP or queue) and however often.

The instance id comes from the order id. The extension's start_new silently REPLACES a finished
instance with the same id, so the starter looks first and starts only when there is no instance
at all; two starters racing past that check meet the extension's own refusal for a running id.
After the history is purged there is nothing to find here: the workflow's first step then finds
the finished order in the order store and stops (orchestrators/order_workflow.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import azure.durable_functions as df

import app_config
from adapters.claim_check import store_personal_data
from domain.fulfilment import ApprovalPolicy, WorkflowInput
from domain.job_updates import ResultRouting
from domain.order_requests import OrderMessage, OrderRequest
from domain.orders import instance_id_for
from orchestrators.order_workflow import ORCHESTRATOR

logger = logging.getLogger(__name__)

# The extension's refusal for a Pending/Running id: "An Orchestration instance with the status
# Running already exists." (AzureStorageOrchestrationService)
_ALREADY_EXISTS = "already exists"


@dataclass(frozen=True)
class StartOutcome:
    """What the starter did: `started` is False when an instance already existed."""

    instance_id: str
    started: bool
    runtime_status: str


def approval_policy() -> ApprovalPolicy:
    """The approval settings, resolved here once: orchestrators must not read the environment."""
    hour = timedelta(hours=1).total_seconds()
    return ApprovalPolicy(
        threshold_cents=app_config.approval_threshold_cents(),
        escalate_after_seconds=app_config.approval_escalation_hours() * hour,
        timeout_seconds=app_config.approval_timeout_hours() * hour,
    )


async def start_order(
    client: df.DurableOrchestrationClient,
    request: OrderRequest | OrderMessage,
    *,
    received_at: datetime,
    correlation_id: str | None,
    routing: ResultRouting | None = None,
) -> StartOutcome:
    order_id = request.order_id
    instance_id = instance_id_for(order_id)
    existing = await client.get_status(instance_id)
    if existing:  # falsy when there is no such instance
        status = existing.runtime_status.value if existing.runtime_status else "Pending"
        logger.info("Order %s is a duplicate: instance %s is %s", order_id, instance_id, status)
        return StartOutcome(instance_id, started=False, runtime_status=status)

    if isinstance(request, OrderRequest):
        # Stored only for a run that starts, so a duplicate can never overwrite what a first
        # request stored; the workflow sees the reference only.
        personal_data = request.customer.model_dump(exclude_none=True)
        ref = await asyncio.to_thread(store_personal_data, order_id, personal_data)
    else:
        ref = request.customer_ref
    run = WorkflowInput(
        order=request.order(ref),
        received_at=received_at.isoformat(),
        approval=approval_policy(),
        correlation_id=correlation_id,
        routing=routing or ResultRouting(),
    )
    try:
        await client.start_new(ORCHESTRATOR, instance_id, run.dump())
    except Exception as error:  # the SDK raises a plain Exception with the extension's body
        if _ALREADY_EXISTS not in str(error):
            raise
        logger.info("Order %s lost a start race: instance %s is running", order_id, instance_id)
        return StartOutcome(instance_id, started=False, runtime_status="Running")
    logger.info(
        "Order %s started as %s [correlation %s]", order_id, instance_id, correlation_id or "-"
    )
    return StartOutcome(instance_id, started=True, runtime_status="Pending")
