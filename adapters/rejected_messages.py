"""The rejected-messages store: one Table row per malformed queue message, its reason, no body."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableClient, UpdateMode

# Row keys may not hold / \ # ? or control characters; other ids are stored under a hash.
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")
MAX_REASON = 1000


@dataclass(frozen=True)
class RejectedMessage:
    """Why a message was refused. The body is not kept: it may carry personal data, and the
    claim check allows personal data only in the private container."""

    queue: str
    message_id: str
    reason: str
    delivery_count: int
    body_bytes: int
    enqueued_at: datetime | None
    rejected_at: datetime

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.queue,
            "RowKey": row_key(self.message_id),
            "MessageId": self.message_id,
            "Reason": self.reason[:MAX_REASON],
            "DeliveryCount": self.delivery_count,
            "BodyBytes": self.body_bytes,
            "EnqueuedAt": self.enqueued_at,
            "RejectedAt": self.rejected_at,
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> RejectedMessage:
        return cls(
            queue=entity["PartitionKey"],
            message_id=entity["MessageId"],
            reason=entity["Reason"],
            delivery_count=int(entity["DeliveryCount"]),
            body_bytes=int(entity["BodyBytes"]),
            enqueued_at=_utc(entity.get("EnqueuedAt")),
            rejected_at=_utc(entity["RejectedAt"]),  # type: ignore[arg-type]
        )


def row_key(message_id: str) -> str:
    if _PLAIN_KEY.match(message_id):
        return message_id
    return "sha256-" + hashlib.sha256(message_id.encode()).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class RejectedMessageStore:
    """Rows partitioned by queue, keyed by message id: a redelivered message overwrites its row."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    def record(self, message: RejectedMessage) -> None:
        self._table.upsert_entity(message.to_entity(), mode=UpdateMode.REPLACE)

    def for_queue(self, queue: str) -> list[RejectedMessage]:
        rows = self._table.query_entities("PartitionKey eq @queue", parameters={"queue": queue})
        return [RejectedMessage.from_entity(row) for row in rows]
