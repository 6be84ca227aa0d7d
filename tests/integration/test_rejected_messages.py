"""The rejected-messages store on Azurite: one row per message, odd ids stored under a hash."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from adapters.factory import build_rejected_messages
from adapters.rejected_messages import RejectedMessage, row_key
from app_config import StorageConnection
from devhost.azurite import Azurite


def rejected(message_id: str, reason: str, count: int = 1) -> RejectedMessage:
    return RejectedMessage(
        queue="orders-test",
        message_id=message_id,
        reason=reason,
        delivery_count=count,
        body_bytes=12,
        enqueued_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        rejected_at=datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC),
    )


def test_a_redelivered_message_keeps_one_row(azurite: Azurite) -> None:
    connection = StorageConnection(connection_string=azurite.connection_string)
    store = build_rejected_messages(connection, f"rejected{uuid.uuid4().hex[:8]}")
    plain, odd = uuid.uuid4().hex, "msg/with?odd#chars"
    store.record(rejected(plain, "first"))
    store.record(rejected(plain, "second", count=2))
    store.record(rejected(odd, "x" * 5000))
    rows = {row.message_id: row for row in store.for_queue("orders-test")}
    assert set(rows) == {plain, odd}
    assert rows[plain] == rejected(plain, "second", count=2)
    assert len(rows[odd].reason) == 1000
    assert row_key(plain) == plain
    assert row_key(odd).startswith("sha256-")
