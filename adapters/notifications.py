"""The notification outbox: what to tell whom, by reference, and where each mail stands.

A row (PartitionKey = order id, RowKey = kind, or `approval_request.<stage>.<approver id>`;
insert-if-absent, so once per order and kind) holds references only: the claim-check reference
of a confirmation, the approver id and link expiry of an approval request. Never an address,
a token or a link: those are made when the mail is rendered (adapters/mail_content.py).

Table storage has no trigger, so queueing a row also puts its keys (nothing else) on the
`notifications` storage queue, whose trigger sends it; a timer sends rows left pending. A row
is `pending` until `sent`, or `dead` after its last attempt; `next_attempt_at` is when it is
due, and a sender that takes it moves that ahead by a lease, with an ETag-checked write, so
the queue trigger and the timer never send the same row at once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableClient, UpdateMode
from azure.storage.queue import QueueClient

from adapters.faults import FaultHook, no_fault
from adapters.tables import TableStore, check_key, get_or_none, insert_if_absent

PENDING, SENT, DEAD = "pending", "sent", "dead"
APPROVAL_REQUEST = "approval_request"
NOTIFICATIONS_QUEUE = "notifications"
MAX_REASON = 300


class NotificationOutbox(TableStore):
    """One row per order and kind; enqueueing the same notification again changes nothing."""

    def __init__(
        self, table: TableClient, queue: QueueClient | None = None, *, fault: FaultHook = no_fault
    ) -> None:
        super().__init__(table, fault=fault)
        self._queue_client = queue

    def enqueue(self, order_id: str, kind: str, customer_ref: str | None) -> bool:
        """Queue the notification; True if this call queued it, False if it was there already."""
        return self._queue(order_id, kind, kind=kind, customer_ref=customer_ref or "")

    def enqueue_approval_request(
        self, order_id: str, approver_id: str, stage: str, expires_at: datetime
    ) -> bool:
        """Queue one approver's request for one round; True if this call queued it."""
        row_key = f"{APPROVAL_REQUEST}.{stage}.{approver_id}"
        return self._queue(
            order_id,
            row_key,
            kind=APPROVAL_REQUEST,
            stage=stage,
            approver=approver_id,
            expires_at=expires_at,
        )

    def _queue(self, order_id: str, row_key: str, **columns: Any) -> bool:
        now = self._now()
        row = {
            "PartitionKey": check_key(order_id),
            "RowKey": check_key(row_key),
            **columns,
            "status": PENDING,
            "attempts": 0,
            "queued_at": now,
            "next_attempt_at": now,
        }
        stored, created = insert_if_absent(self._table, row)
        if created:
            self._fault("outbox.queued")
        if stored["status"] == PENDING:
            # Again on a retry: the first try may have written the row and lost the message.
            self.notify(order_id, row_key)
        return created

    def notify(self, order_id: str, row_key: str) -> None:
        """Tell the sender about the row: its keys, never its content."""
        if self._queue_client is not None:
            self._queue_client.send_message(json.dumps({"order_id": order_id, "row": row_key}))

    def get(self, order_id: str, row_key: str) -> dict[str, Any] | None:
        return get_or_none(self._table, check_key(order_id), check_key(row_key))

    def approval_requests(self, order_id: str) -> list[dict[str, Any]]:
        """The order's approval request rows, of every round."""
        rows = self._table.query_entities(
            "PartitionKey eq @order and kind eq @kind",
            parameters={"order": check_key(order_id), "kind": APPROVAL_REQUEST},
        )
        return [dict(row) for row in rows]

    def due(self, now: datetime, limit: int) -> list[Any]:
        """Pending rows whose time has come, oldest first (a scan: the outbox stays small;
        rows queued before `next_attempt_at` existed are due)."""
        rows = self._table.query_entities("status eq @pending", parameters={"pending": PENDING})
        found = [row for row in rows if _due_at(row) <= now]
        return sorted(found, key=_due_at)[:limit]

    def with_status(self, status: str) -> list[dict[str, Any]]:
        rows = self._table.query_entities("status eq @status", parameters={"status": status})
        return [dict(row) for row in rows]

    def take(self, row: dict[str, Any], lease: timedelta) -> dict[str, Any] | None:
        """Hold a due row for one attempt (attempts + 1, due again after `lease`); the updated
        row, or None when it is not pending and due, or another sender took it first."""
        now = self._now()
        if row["status"] != PENDING or _due_at(row) > now:
            return None
        changed = {**row, "attempts": int(row.get("attempts") or 0) + 1}
        changed["next_attempt_at"] = now + lease
        return self._write(row, changed)

    def mark_sent(self, row: dict[str, Any], transport: str) -> None:
        self._write(row, {**row, "status": SENT, "sent_at": self._now(), "transport": transport})

    def retry_later(self, row: dict[str, Any], at: datetime, reason: str, *, counted: bool) -> None:
        """Due again `at`; an attempt that does not count (throttling) is given back."""
        attempts = int(row["attempts"]) - (0 if counted else 1)
        changed = {
            **row,
            "attempts": attempts,
            "next_attempt_at": at,
            "reason": reason[:MAX_REASON],
        }
        self._write(row, changed)

    def mark_dead(self, row: dict[str, Any], reason: str) -> None:
        self._write(row, {**row, "status": DEAD, "reason": reason[:MAX_REASON]})

    def resend(self, order_id: str, row_key: str) -> bool:
        """Make a dead (or sent) row pending again, due now, and tell the sender; False if
        there is no such row."""
        row = self.get(order_id, row_key)
        if row is None:
            return False
        changed = {**row, "status": PENDING, "attempts": 0, "next_attempt_at": self._now()}
        changed["reason"] = ""
        self._table.update_entity(changed, mode=UpdateMode.REPLACE)
        self.notify(order_id, row_key)
        return True

    def _write(self, row: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any] | None:
        """Replace `row` with `changed` if nobody wrote it since it was read."""
        try:
            self._table.update_entity(
                changed,
                mode=UpdateMode.REPLACE,
                etag=row.metadata["etag"],  # type: ignore[attr-defined]
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            return None
        return self.get(row["PartitionKey"], row["RowKey"])


def _due_at(row: Any) -> datetime:
    return row.get("next_attempt_at") or row["queued_at"]
