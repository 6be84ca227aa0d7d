"""The `orders` Service Bus queue starts an order's workflow, once per order however often sent.

A malformed message (not UTF-8 JSON, or an invalid order) can never succeed, so it is not
retried: it is recorded with its reason in the rejected-messages table, counted, and completed.
Any other failure raises, so Service Bus delivers the message again and dead-letters it after
the queue's maxDeliveryCount.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from opentelemetry import metrics

import app_config
from adapters.rejected_messages import RejectedMessage, rejected_message_store
from domain.order_requests import OrderRequest, parse_order_request
from domain.orders import InvalidOrder
from triggers.order_start import start_order

logger = logging.getLogger(__name__)

QUEUE = "orders"
CONNECTION = "ServiceBusConnection"

# A no-op until a meter provider is configured (azure-monitor-opentelemetry in Azure).
rejected_counter = metrics.get_meter(__name__).create_counter(
    "orders.rejected_messages",
    unit="{message}",
    description="Malformed order messages recorded and completed without a retry",
)

bp = df.Blueprint()


@bp.function_name("orders_from_queue")
@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=QUEUE, connection=CONNECTION, data_type=func.DataType.BINARY
)
@bp.durable_client_input(client_name="client")
async def orders_from_queue(
    msg: func.ServiceBusMessage, client: df.DurableOrchestrationClient
) -> None:
    body = msg.get_body()
    try:
        request = parse_message(body)
    except InvalidOrder as invalid:
        await asyncio.to_thread(reject, msg, str(invalid), len(body))
        return
    outcome = await start_order(
        client,
        request,
        received_at=_enqueued_at(msg),
        correlation_id=msg.correlation_id or msg.message_id,
    )
    if not outcome.started:
        logger.info(
            "Message %s repeats order %s (%s); not started again",
            msg.message_id,
            request.order.order_id,
            outcome.runtime_status,
        )


def parse_message(body: bytes) -> OrderRequest:
    """The order a message carries; InvalidOrder for anything that can never be processed."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidOrder([f"the body is not UTF-8 JSON: {error}"]) from error
    return parse_order_request(data, allow_customer_ref=True)


def reject(msg: func.ServiceBusMessage, reason: str, body_bytes: int) -> None:
    """Record why the message was refused (never its body), count it, log it."""
    store = rejected_message_store(
        app_config.storage_connection(),
        app_config.table_service_uri(),
        app_config.rejected_messages_table(),
    )
    store.record(
        RejectedMessage(
            queue=QUEUE,
            message_id=msg.message_id or "",
            reason=reason,
            delivery_count=msg.delivery_count or 0,
            body_bytes=body_bytes,
            enqueued_at=_enqueued_at(msg),
            rejected_at=datetime.now(UTC),
        )
    )
    rejected_counter.add(1, {"queue": QUEUE})
    logger.warning("Rejected message %s on %s: %s", msg.message_id, QUEUE, reason)


def _enqueued_at(msg: func.ServiceBusMessage) -> datetime:
    # The host sends the enqueued time as a naive datetime holding UTC.
    enqueued = msg.enqueued_time_utc
    return datetime.now(UTC) if enqueued is None else enqueued.replace(tzinfo=UTC)
