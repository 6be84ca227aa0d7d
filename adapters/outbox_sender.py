"""Sends outbox rows through the mail transport: at least once, once per transport where it
allows (ACS dedupes by operation id; SMTP and files reuse the mail id), never losing a row."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.faults import FaultHook, no_fault
from adapters.mail import MailTransport, OutgoingMail, PermanentMailError, TransientMailError
from adapters.notifications import NotificationOutbox
from adapters.telemetry import ATTR_NOTIFICATION_KIND, notifications_dead
from domain.notifications import FIRST_RETRY, LEASE, retry_delay

logger = logging.getLogger(__name__)

Render = Callable[[Mapping[str, Any]], OutgoingMail]


class OutboxSender:
    """One attempt per due row: take it (a lease), render, send, then mark it sent, due again
    later, or dead after `max_attempts` (counted in `notifications.dead`)."""

    def __init__(
        self,
        outbox: NotificationOutbox,
        transport: MailTransport,
        render: Render,
        *,
        max_attempts: int = 8,
        first_retry: timedelta = FIRST_RETRY,
        fault: FaultHook = no_fault,
    ) -> None:
        self.outbox, self.transport, self.render = outbox, transport, render
        self.max_attempts, self.first_retry, self._fault = max_attempts, first_retry, fault

    def send_row(self, order_id: str, row_key: str) -> str:
        """Send one row if it is due: its outcome (sent, retry, throttled, dead, skipped)."""
        row = self.outbox.get(order_id, row_key)
        return "skipped" if row is None else self._attempt(row)

    def send_due(self, limit: int = 100) -> dict[str, int]:
        """Every due row, up to `limit`: how many had each outcome."""
        outcomes: dict[str, int] = {}
        for row in self.outbox.due(datetime.now(UTC), limit):
            outcome = self._attempt(row)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def _attempt(self, row: Any) -> str:
        taken = self.outbox.take(row, LEASE)
        if taken is None:
            return "skipped"  # not due, finished, or the other sender has it
        where = f"{taken['PartitionKey']}/{taken['RowKey']}"
        kind = str(taken.get("kind") or taken["RowKey"])
        try:
            mail = self._render(taken)
            # A second attempt may follow one that reached the transport and then crashed.
            self.transport.send(replace(mail, resend=int(taken["attempts"]) > 1))
        except TransientMailError as error:
            now = datetime.now(UTC)
            if error.retry_after is not None:  # throttled: wait as told, not a failed attempt
                at = now + timedelta(seconds=error.retry_after)
                self.outbox.retry_later(taken, at, str(error), counted=False)
                logger.warning("Notification %s throttled; due again at %s", where, at)
                return "throttled"
            if int(taken["attempts"]) >= self.max_attempts:
                return self._dead(taken, kind, f"{error} (after {taken['attempts']} attempts)")
            at = now + retry_delay(int(taken["attempts"]), self.first_retry)
            self.outbox.retry_later(taken, at, str(error), counted=True)
            logger.warning("Notification %s not sent (%s); due again at %s", where, error, at)
            return "retry"
        except PermanentMailError as error:
            return self._dead(taken, kind, str(error))
        self._fault("outbox.sent")
        self.outbox.mark_sent(taken, self.transport.name)
        logger.info("Notification %s sent by %s", where, self.transport.name)
        return "sent"

    def _render(self, row: Any) -> OutgoingMail:
        try:
            return self.render(row)
        except PermanentMailError:
            raise
        except Exception as error:  # reading the claim check or the key failed: try again
            raise TransientMailError(f"not rendered: {type(error).__name__}") from error

    def _dead(self, row: Any, kind: str, reason: str) -> str:
        self.outbox.mark_dead(row, reason)
        notifications_dead.add(1, {ATTR_NOTIFICATION_KIND: kind})
        logger.error("Notification %s/%s is dead: %s", row["PartitionKey"], row["RowKey"], reason)
        return "dead"
