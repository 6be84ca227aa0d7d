"""Sends the outbox's notifications: on each row's queue message, and every few minutes
(NOTIFICATIONS_RESEND_SCHEDULE) for rows left pending (a lost message, a retry that is due)."""

from __future__ import annotations

import json
import logging

import azure.functions as func

import app_config
from adapters.factory import root
from adapters.notifications import NOTIFICATIONS_QUEUE

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
    """One row's keys ({"order_id", "row"}); anything else is logged and dropped, as the row
    itself is never lost: the timer finds every pending row."""
    try:
        keys = json.loads(message.get_body())
        order_id, row_key = str(keys["order_id"]), str(keys["row"])
    except (ValueError, KeyError, TypeError):
        logger.warning("Notification message %s is not a row's keys; dropped", message.id)
        return
    root.outbox_sender().send_row(order_id, row_key)


@bp.function_name("notifications_resend_timer")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False)
def notifications_resend_timer(timer: func.TimerRequest) -> None:
    outcomes = root.outbox_sender().send_due()
    if outcomes:
        logger.info("Pending notifications tried: %s", outcomes)
