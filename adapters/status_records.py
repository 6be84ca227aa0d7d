"""Each job's latest status in Table storage: the fifth way of returning results, read by anyone.

One row per job (PartitionKey = job id), replaced only by an update with a higher sequence
number, with If-Match on the ETag read: late or repeated updates never move a record back,
and of two racing writers the higher number wins whatever order they arrive in.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import UpdateMode

from adapters.tables import TableStore, check_key, get_or_none, insert_if_absent, int64, plain
from domain.failures import TransientFailure
from domain.job_updates import JobUpdate, UpdateKind, supersedes

logger = logging.getLogger(__name__)

ROW = "status"


def _entity(update: JobUpdate) -> dict[str, Any]:
    return {
        "PartitionKey": check_key(update.job_id),
        "RowKey": ROW,
        "job_type": update.job_type,
        "sequence": int64(update.sequence),
        "kind": str(update.kind),
        "step": update.step,
        "progress": update.progress,
        "status": update.status,
        "occurred_at": update.occurred_at,
        "correlation_id": update.correlation_id or "",
        "result": json.dumps(update.result) if update.result is not None else "",
    }


def _update(entity: dict[str, Any]) -> JobUpdate:
    result = entity.get("result") or ""
    return JobUpdate(
        job_id=entity["PartitionKey"],
        job_type=entity["job_type"],
        sequence=int(plain(entity["sequence"])),
        kind=UpdateKind(entity["kind"]),
        step=entity["step"],
        progress=int(plain(entity["progress"])),
        status=entity["status"],
        occurred_at=entity["occurred_at"],
        correlation_id=entity.get("correlation_id") or None,
        result=json.loads(result) if result else None,
    )


class StatusRecords(TableStore):
    """Apply updates in sequence order; read a job's latest status."""

    def apply(self, update: JobUpdate) -> bool:
        """Store `update` unless one with the same or a higher number is there; True if stored."""
        entity = _entity(update)
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            stored = get_or_none(self._table, entity["PartitionKey"], ROW)
            if stored is None:
                _, created = insert_if_absent(self._table, entity)
                if created:
                    self._fault("status.applied")
                    return True
                continue  # another writer created it first: compare with theirs
            applied = int(plain(stored["sequence"]))
            if not supersedes(update.sequence, applied):
                logger.info(
                    "Status of %s is at update %d; update %d not applied",
                    update.job_id,
                    applied,
                    update.sequence,
                )
                return False
            try:
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=stored.metadata["etag"],  # type: ignore[attr-defined]
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                self.BACKOFF.wait(attempt)
                continue
            self._fault("status.applied")
            return True
        raise TransientFailure(f"status of {update.job_id}: too many concurrent updates")

    def get(self, job_id: str) -> JobUpdate | None:
        stored = get_or_none(self._table, check_key(job_id), ROW)
        return None if stored is None else _update(stored)
