"""Durable entity state and queued operations in the durable store's SQLite database.

The tables (`entities`, `entity_requests`) are created by the store's schema. These helpers run
inside a store transaction (`Tx`), so an episode's requests are queued in the transaction that
records its EventSent events, and a batch's state, consumed requests and responses are one
transaction too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devhost.durable.store import Tx


@dataclass
class QueuedRequest:
    id: int
    message: dict[str, Any]


@dataclass
class EntityBatch:
    """An entity's stored state and the requests waiting for it, oldest first."""

    entity_id: str
    exists: bool
    state: str | None
    requests: list[QueuedRequest]


def enqueue_request(tx: Tx, entity_id: str, message: dict[str, Any]) -> None:
    tx.conn.execute(
        "INSERT INTO entity_requests (entity_id, request) VALUES (?, ?)",
        (entity_id, json.dumps(message)),
    )


def pending_request_ids(tx: Tx) -> set[str]:
    """Ids of the requests queued for any entity and not run yet."""
    rows = tx.conn.execute("SELECT request FROM entity_requests").fetchall()
    return {json.loads(row[0]).get("id") for row in rows}


def entities_with_requests(tx: Tx) -> list[str]:
    """Entities with queued requests, in the order their oldest request arrived."""
    rows = tx.conn.execute(
        "SELECT entity_id FROM entity_requests GROUP BY entity_id ORDER BY MIN(id)"
    )
    return [r[0] for r in rows]


def load_batch(tx: Tx, entity_id: str, limit: int) -> EntityBatch:
    row = tx.conn.execute("SELECT state FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
    rows = tx.conn.execute(
        "SELECT id, request FROM entity_requests WHERE entity_id = ? ORDER BY id LIMIT ?",
        (entity_id, limit),
    )
    requests = [QueuedRequest(r[0], json.loads(r[1])) for r in rows]
    return EntityBatch(entity_id, row is not None, row[0] if row else None, requests)


def read_state(tx: Tx, entity_id: str) -> tuple[bool, str | None]:
    row = tx.conn.execute("SELECT state FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
    return (row is not None, row[0] if row else None)


def save_state(
    tx: Tx, entity_id: str, exists: bool, state: str | None, consumed: list[int], now: str
) -> None:
    """The entity's state after a batch; an entity that no longer exists is deleted."""
    if exists:
        tx.conn.execute(
            "INSERT OR REPLACE INTO entities (entity_id, state, last_modified_time) "
            "VALUES (?, ?, ?)",
            (entity_id, state, now),
        )
    else:
        tx.conn.execute("DELETE FROM entities WHERE entity_id = ?", (entity_id,))
    tx.conn.executemany("DELETE FROM entity_requests WHERE id = ?", [(i,) for i in consumed])
