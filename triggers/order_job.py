"""The `order` job: an order's workflow, started once per order id from HTTP or a queue message."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import azure.durable_functions as df

import app_config
from adapters.factory import outbound_allow_list, root
from domain.fulfilment import NOT_CANCELLABLE, WORKFLOW_VERSION, WorkflowInput, WorkflowResult
from domain.job_updates import ResultRouting
from domain.order_requests import OrderMessage, OrderRequest
from domain.orders import ORDER_ID, instance_id_for
from domain.outbound import check_urls
from orchestrators.cancellation import CANCEL_EVENT
from orchestrators.order_workflow import ORCHESTRATOR
from triggers.job_types import JobType, StartRequest, job_ids
from triggers.start_once import Started, runtime_status_of, start_once
from triggers.task_hubs import MAIN, hub_of_request, on_hub

PREFIX = instance_id_for("")
logger = logging.getLogger(__name__)


def vet_callback_url(url: str | None) -> str | None:
    """The caller's webhook if the allow-list (a setting) lets it through; InvalidPayload if not,
    so that a bad one is refused before anything starts."""
    check_urls(outbound_allow_list(purpose="webhooks"), callback_url=url)
    return url


async def start_order(
    client: df.DurableOrchestrationClient,
    request: OrderRequest | OrderMessage,
    *,
    received_at: datetime,
    correlation_id: str | None,
    routing: ResultRouting | None = None,
) -> Started:
    """Start the order in its task hub (express orders in the express app's) unless it runs.

    The order id is claimed for one hub before either starts it, so an order sent both ways
    (HTTP and a queue, or both queues) runs once, in the hub that claimed it first."""
    order_id = request.order_id
    hub = hub_of_request(request.express)
    claimed = await asyncio.to_thread(root.orders().orders.claim_hub, order_id, hub)
    if claimed != hub:
        logger.info("Order %s runs in the %s task hub, not the %s hub", order_id, claimed, hub)
        return await _running_elsewhere(client, instance_id_for(order_id), claimed)

    async def workflow_input() -> WorkflowInput:
        if isinstance(request, OrderRequest):
            # Stored only for a run that starts, so a duplicate can never overwrite what a
            # first request stored; the workflow sees the reference only.
            personal_data = request.customer.model_dump(exclude_none=True)
            ref = await asyncio.to_thread(lambda: root.claims().put(order_id, personal_data))
        else:
            ref = request.customer_ref
        return WorkflowInput(
            order=request.order(ref),
            received_at=received_at.isoformat(),
            approval=app_config.approval_policy(),
            correlation_id=correlation_id,
            routing=routing or ResultRouting(),
            version=WORKFLOW_VERSION,
        )

    return await start_once(
        on_hub(client, hub),
        ORCHESTRATOR,
        instance_id_for(order_id),
        workflow_input,
        label=f"Order {order_id}",
        correlation_id=correlation_id,
    )


async def _running_elsewhere(
    client: df.DurableOrchestrationClient, instance_id: str, hub: str
) -> Started:
    """A duplicate of an order another hub claimed: its status there, as a duplicate's answer
    needs (the express app cannot see the main hub: it only logs the duplicate)."""
    status = None
    if app_config.app_role() == MAIN:
        status = await on_hub(client, hub).get_status(instance_id)
    runtime_status = runtime_status_of(status) if status else "Pending"
    return Started(instance_id, started=False, runtime_status=runtime_status)


async def start_order_job(client: df.DurableOrchestrationClient, request: StartRequest) -> Started:
    """An HTTP caller gets no reply message: it polls the status URL, or names a webhook."""
    order: OrderRequest = request.body
    return await start_order(
        client,
        order,
        received_at=request.received_at,
        correlation_id=request.correlation_id,
        routing=ResultRouting(callback_url=vet_callback_url(order.callback_url)),
    )


ORDER_JOB = JobType(
    name="order",
    ids=job_ids(PREFIX, ORDER_ID),
    orchestrator=ORCHESTRATOR,
    request=OrderRequest,
    rules="Each sku at most once in `lines`.",
    result=WorkflowResult,
    start=start_order_job,
    # Compensation runs; from shipping on a cancel is refused.
    cancel_event=CANCEL_EVENT,
    not_cancellable_steps=NOT_CANCELLABLE,
)
