"""The `order` job type: POST /api/jobs/order takes exactly the body POST /api/orders takes."""

from __future__ import annotations

import re

import azure.durable_functions as df

from domain.fulfilment import WorkflowResult
from domain.order_requests import OrderRequest
from domain.orders import ORDER_ID, instance_id_for
from orchestrators.order_workflow import ORCHESTRATOR
from triggers.job_types import JobType, StartedJob, StartRequest
from triggers.order_cancel import CancelOutcome, request_cancellation
from triggers.order_intake import http_order_routing
from triggers.order_start import start_order

_PREFIX = instance_id_for("")
# The instance ids order_start gives: "order-" and a valid order id.
ORDER_JOB_ID = re.compile(_PREFIX + ORDER_ID.pattern.removeprefix("^").removesuffix("$"))


async def start_order_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    order: OrderRequest = request.body
    outcome = await start_order(
        client,
        order,
        received_at=request.received_at,
        correlation_id=request.correlation_id,
        routing=http_order_routing(order),
    )
    return StartedJob(outcome.instance_id, outcome.runtime_status, duplicate=not outcome.started)


async def cancel_order_job(
    client: df.DurableOrchestrationClient, job_id: str, reason: str
) -> CancelOutcome:
    """The same as POST /api/orders/{order_id}/cancel: an event the workflow compensates for."""
    return await request_cancellation(client, job_id.removeprefix(_PREFIX), reason)


ORDER_JOB = JobType(
    name="order",
    orchestrator=ORCHESTRATOR,
    ids=ORDER_JOB_ID,
    request=OrderRequest,
    result=WorkflowResult,
    rules="Each sku at most once in `lines`.",
    start=start_order_job,
    cancel=cancel_order_job,
)
