"""The notification outbox: what to tell whom, by reference, for a mailer to send later.

No email leaves this app: a row (PartitionKey = order id, RowKey = kind, insert-if-absent, so
once per order) holds the claim-check reference, never an address, for a mail sender to resolve.
"""

from __future__ import annotations

from adapters.tables import TableStore, check_key, insert_if_absent

PENDING = "pending"


class NotificationOutbox(TableStore):
    """One row per order and kind; enqueueing the same notification again changes nothing."""

    def enqueue(self, order_id: str, kind: str, customer_ref: str | None) -> bool:
        """Queue the notification; True if this call queued it, False if it was there already."""
        row = {
            "PartitionKey": check_key(order_id),
            "RowKey": check_key(kind),
            "customer_ref": customer_ref or "",
            "status": PENDING,
            "queued_at": self._now(),
        }
        _, created = insert_if_absent(self._table, row)
        if created:
            self._fault("outbox.queued")
        return created
