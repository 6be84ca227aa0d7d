"""Sends the outbox's notifications: on each row's queue message, and every few minutes
(NOTIFICATIONS_RESEND_SCHEDULE) for rows left pending (a lost message, a retry that is due)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

import app_config
from adapters.factory import root
from adapters.notifications import NOTIFICATIONS_QUEUE
from adapters.rejected_messages import RejectedMessage
from domain.notifications import OutboxRowKeys
from domain.payload import InvalidPayload, parse_request, utc

logger = logging.getLogger(__name__)

SCHEDULE = app_config.timer_schedule(
    app_config.NOTIFICATIONS_SCHEDULE_SETTING, app_config.DEFAULT_NOTIFICATIONS_SCHEDULE
)

bp = func.Blueprint()


@bp.function_name("notifications_from_queue")
@bp.queue_trigger(
    arg_name="message", queue_name=NOTIFICATIONS_QUEUE, connection="AzureWebJobsStorage"
)
def notifications_from_queue(message: func.QueueMessage) -> None:
    """One row's keys (OutboxRowKeys). A message that is not can never be sent: it is recorded
    with its reason (never its body) and completed, not retried into the poison queue; no row
    is lost by that, as the timer finds every pending row. Any other failure raises, so the
    message is tried again."""
    body = message.get_body()
    try:
        keys = parse_request(OutboxRowKeys, body)
    except InvalidPayload as invalid:
        reject(message, "; ".join(invalid.problems), len(body))
        return
    root.outbox_sender().send_row(keys.order_id, keys.row)


def reject(message: func.QueueMessage, reason: str, body_bytes: int) -> None:
    """Record why the message was refused (never its body) and log it."""
    inserted = message.insertion_time
    root.rejected_messages().record(
        RejectedMessage(
            queue=NOTIFICATIONS_QUEUE,
            message_id=message.id or "",
            reason=reason,
            delivery_count=message.dequeue_count or 0,
            body_bytes=body_bytes,
            enqueued_at=None if inserted is None else utc(inserted),
            rejected_at=datetime.now(UTC),
        )
    )
    logger.warning("Rejected message %s on %s: %s", message.id, NOTIFICATIONS_QUEUE, reason)


@bp.function_name("notifications_resend_timer")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False)
def notifications_resend_timer(timer: func.TimerRequest) -> None:
    outcomes = root.outbox_sender().send_due()
    if outcomes:
        logger.info("Pending notifications tried: %s", outcomes)
