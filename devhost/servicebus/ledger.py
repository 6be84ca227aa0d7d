"""Per-queue sequence numbers and duplicate-detection history for the stand-in, in Table storage."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

# Both live in one table of the AzureWebJobsStorage account and change only with optimistic
# concurrency (ETags), so several devhost processes or CLI calls on one storage account agree:
# each sequence number is handed out once, and of two sends with one MessageId inside the
# window exactly one is accepted.
log = logging.getLogger("devhost.serviceBusTrigger")
TABLE = "devhostservicebus"
_SEQUENCE_PARTITION = "sequence"
_ATTEMPTS = 50


class LedgerContention(RuntimeError):
    """Too many concurrent writers kept winning; retrying later is safe."""


class Ledger:
    """Sequence counters and first-seen MessageIds for the stand-in's queues."""

    def __init__(self, table_service: Any) -> None:
        self._service = table_service
        self._table = table_service.get_table_client(TABLE)
        self._created = False

    def _ensure(self) -> None:
        if not self._created:
            with contextlib.suppress(ResourceExistsError):
                self._service.create_table(TABLE)
            self._created = True

    def next_sequence_number(self, storage_queue: str) -> int:
        """The queue's next sequence number, starting at 1."""
        self._ensure()
        for _ in range(_ATTEMPTS):
            entity = self._get(_SEQUENCE_PARTITION, storage_queue)
            if entity is None:
                try:
                    self._table.create_entity(
                        {"PartitionKey": _SEQUENCE_PARTITION, "RowKey": storage_queue, "Next": 2}
                    )
                except ResourceExistsError:
                    continue
                return 1
            number = int(entity["Next"])
            entity["Next"] = number + 1
            if self._replace_if_unchanged(entity):
                return number
        raise LedgerContention(f"could not take a sequence number for {storage_queue}")

    def first_sighting(
        self, storage_queue: str, message_id: str, now: datetime, window: timedelta
    ) -> datetime | None:
        """Record `message_id` as sent now, unless it was sent within `window`.

        Returns None when the send is accepted, or the earlier send's time when it is a
        duplicate that Service Bus would drop.
        """
        self._ensure()
        partition = f"dedup-{storage_queue}"
        row = message_id.encode("utf-8").hex()
        for _ in range(_ATTEMPTS):
            entity = self._get(partition, row)
            if entity is None:
                try:
                    self._table.create_entity(
                        {"PartitionKey": partition, "RowKey": row, "FirstSeen": now.isoformat()}
                    )
                except ResourceExistsError:
                    continue
                return None
            seen = datetime.fromisoformat(entity["FirstSeen"])
            if now - seen < window:
                return seen
            entity["FirstSeen"] = now.isoformat()
            if self._replace_if_unchanged(entity):
                return None
        raise LedgerContention(f"could not record message id {message_id!r}")

    def forget(self, storage_queue: str, message_id: str, sent_at: datetime) -> None:
        """Undo `first_sighting` for a send that then failed, so that its retry is not dropped.

        Only the entry this send wrote (its time) is removed, never a later sender's.
        """
        partition = f"dedup-{storage_queue}"
        try:
            entity = self._get(partition, message_id.encode("utf-8").hex())
            if entity is None or entity["FirstSeen"] != sent_at.isoformat():
                return
            with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
                self._table.delete_entity(
                    entity,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
        except Exception as exc:  # storage is failing: keep the send's own error in front
            log.warning(
                "Could not forget message id %r after its send failed (%s); a retry inside the "
                "duplicate detection window will be dropped",
                message_id,
                exc,
            )

    def _replace_if_unchanged(self, entity: Any) -> bool:
        """Write `entity` back unless another sender changed it since it was read (its ETag)."""
        try:
            self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            return False
        return True

    def _get(self, partition: str, row: str) -> Any:
        try:
            return self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
