"""The `orders` and `orders-express` Service Bus queues start each order's workflow once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from opentelemetry import metrics

import app_config
from adapters.factory import root
from adapters.rejected_messages import RejectedMessage
from adapters.telemetry import job_span, record_queue_wait
from domain.job_updates import ResultRouting, reply_queue_for
from domain.order_requests import OrderMessage, parse_order_message
from domain.orders import instance_id_for
from domain.payload import InvalidPayload
from orchestrators.order_workflow import JOB_TYPE as ORDER_JOB_TYPE
from triggers.correlation import RULE as CORRELATION_RULE
from triggers.correlation import is_correlation_id
from triggers.order_job import start_order, vet_callback_url

logger = logging.getLogger(__name__)

QUEUE = "orders"
EXPRESS_QUEUE = "orders-express"
CONNECTION = "ServiceBusConnection"

# A no-op until a meter provider is configured (azure-monitor-opentelemetry in Azure).
rejected_counter = metrics.get_meter(__name__).create_counter(
    "orders.rejected_messages",
    unit="{message}",
    description="Malformed order messages recorded and completed without a retry",
)

bp = df.Blueprint()
# Its own blueprint: the express role registers this trigger and not the other (function_app).
express_bp = df.Blueprint()


def _queue_trigger(
    blueprint: df.Blueprint, function_name: str, queue: str, *, express: bool
) -> None:
    """Register `function_name` on `queue`; both queues run handle_order_message."""
    bp = blueprint

    @bp.function_name(function_name)
    @bp.service_bus_queue_trigger(
        arg_name="msg", queue_name=queue, connection=CONNECTION, data_type=func.DataType.BINARY
    )
    @bp.durable_client_input(client_name="client")
    async def trigger(msg: func.ServiceBusMessage, client: df.DurableOrchestrationClient) -> None:
        await handle_order_message(msg, client, queue=queue, express=express)


_queue_trigger(bp, "orders_from_queue", QUEUE, express=False)
_queue_trigger(express_bp, "orders_express_from_queue", EXPRESS_QUEUE, express=True)


async def handle_order_message(
    msg: func.ServiceBusMessage,
    client: df.DurableOrchestrationClient,
    *,
    queue: str,
    express: bool,
) -> None:
    """Start the message's order; `express` marks it. A malformed message can never succeed: it
    is recorded with its reason (never its body), counted and completed, not retried. Any other
    failure raises, so Service Bus redelivers and dead-letters after maxDeliveryCount."""
    body = msg.get_body()
    problems = correlation_problems(msg)
    try:
        request, routing = parse_queued_order(body, msg.reply_to)
    except InvalidPayload as invalid:
        problems = invalid.problems + problems
    if problems:
        await asyncio.to_thread(reject, msg, queue, "; ".join(problems), len(body))
        return
    if express:
        # The queue decides: an order that came the express way is recorded as express.
        request = request.model_copy(update={"express": True})
    enqueued_at, correlation_id = _enqueued_at(msg), msg.correlation_id or msg.message_id
    with job_span(
        f"start order from {queue}",
        job_type=ORDER_JOB_TYPE,
        instance_id=instance_id_for(request.order_id),
        correlation_id=correlation_id,
        **{"messaging.destination.name": queue},
    ):
        outcome = await start_order(
            client,
            request,
            received_at=enqueued_at,
            correlation_id=correlation_id,
            routing=routing,
        )
    if outcome.started:
        record_queue_wait(queue, enqueued_at)
    else:
        logger.info(
            "Message %s on %s repeats order %s (%s); not started again",
            msg.message_id,
            queue,
            request.order_id,
            outcome.runtime_status,
        )


def parse_queued_order(body: bytes, reply_to: str | None) -> tuple[OrderMessage, ResultRouting]:
    """A message carries a claim-check reference only; results go to the reply queue (its
    ReplyTo when that names a declared reply queue) and to its optional webhook."""
    message = parse_order_message(body)
    url = vet_callback_url(message.callback_url)
    channels = app_config.result_channels()
    reply_queue = reply_queue_for(reply_to, channels.reply_queue, channels.reply_queues)
    return message, ResultRouting(reply_queue=reply_queue, callback_url=url)


def correlation_problems(msg: func.ServiceBusMessage) -> list[str]:
    """The message's correlation id (its CorrelationId, else its MessageId) must be one the app
    may log and pass on, as over HTTP. It is not replaced: the reply must carry the sender's own
    id, or the sender could never match it."""
    if msg.correlation_id:
        valid, problem = is_correlation_id(msg.correlation_id), f"CorrelationId: {CORRELATION_RULE}"
    else:
        valid = not msg.message_id or is_correlation_id(msg.message_id)
        problem = f"MessageId: {CORRELATION_RULE} when there is no CorrelationId (it stands in)"
    return [] if valid else [problem]


def reject(msg: func.ServiceBusMessage, queue: str, reason: str, body_bytes: int) -> None:
    """Record why the message was refused (never its body), count it, log it."""
    root.rejected_messages().record(
        RejectedMessage(
            queue=queue,
            message_id=msg.message_id or "",
            reason=reason,
            delivery_count=msg.delivery_count or 0,
            body_bytes=body_bytes,
            enqueued_at=_enqueued_at(msg),
            rejected_at=datetime.now(UTC),
        )
    )
    rejected_counter.add(1, {"queue": queue})
    logger.warning("Rejected message %s on %s: %s", msg.message_id, queue, reason)


def _enqueued_at(msg: func.ServiceBusMessage) -> datetime:
    # The host sends the enqueued time as a naive datetime holding UTC.
    enqueued = msg.enqueued_time_utc
    return datetime.now(UTC) if enqueued is None else enqueued.replace(tzinfo=UTC)
