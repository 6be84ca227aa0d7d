"""The notification outbox: what to tell whom, by reference, for a mailer to send later.

No email leaves this app: a row (PartitionKey = order id, RowKey = kind, insert-if-absent, so
once per order) holds the claim-check reference, never an address, for a mail sender to resolve.
An approval request's row (RowKey `approval_request.<stage>.<approver id>`) names the approver
and when its link expires, never a token or a link: those are made when the mail is rendered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.tables import TableStore, check_key, insert_if_absent

PENDING = "pending"
APPROVAL_REQUEST = "approval_request"


class NotificationOutbox(TableStore):
    """One row per order and kind; enqueueing the same notification again changes nothing."""

    def enqueue(self, order_id: str, kind: str, customer_ref: str | None) -> bool:
        """Queue the notification; True if this call queued it, False if it was there already."""
        return self._queue(order_id, kind, customer_ref=customer_ref or "")

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
        row = {
            "PartitionKey": check_key(order_id),
            "RowKey": check_key(row_key),
            **columns,
            "status": PENDING,
            "queued_at": self._now(),
        }
        _, created = insert_if_absent(self._table, row)
        if created:
            self._fault("outbox.queued")
        return created

    def approval_requests(self, order_id: str) -> list[dict[str, Any]]:
        """The order's approval request rows, of every round."""
        rows = self._table.query_entities(
            "PartitionKey eq @order and kind eq @kind",
            parameters={"order": check_key(order_id), "kind": APPROVAL_REQUEST},
        )
        return [dict(row) for row in rows]
