"""Stock per SKU in Table storage, reserved all-or-none under optimistic concurrency (ETags).

One partition ("stock") holds a row per SKU (RowKey "sku:<SKU>": `available`, `reserved`) and
per order's reservation (RowKey "reservation:<order id>": `state`, `units` as JSON), so a
reservation is ONE entity-group transaction: every SKU row updated If-Match the ETag just read,
plus the insert of the reservation row. Storage applies all of it or none of it, so

- two orders racing for the last unit: one wins, the other gets 412 and reads again;
- a retried or duplicate call finds the reservation row (a racing copy's insert gets 409 and
  its whole transaction is void);
- a crash leaves no half-reserved order to undo, which per-SKU writes could not promise.

Release is the mirror transaction and marks the row "released" (a tombstone even for an order
that never reserved), so a late duplicate of the reservation cannot take the stock again.
Limits: 100 operations per transaction (an order has at most 50 lines), about 2,000 entity
operations a second per partition; a busier catalogue would shard SKUs over partitions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.data.tables import TableTransactionError, UpdateMode

from adapters.tables import Backoff, TableStore, check_key, get_or_none
from domain.failures import TransientFailure
from domain.stock import ReservationReleased, remaining_after

logger = logging.getLogger(__name__)

PARTITION = "stock"
# Conflicts (412: a SKU changed since it was read; 409: a racing copy inserted the reservation).
_CONFLICTS = frozenset({409, 412})


class ReservationState(StrEnum):
    RESERVED = "reserved"
    RELEASED = "released"


@dataclass(frozen=True)
class StockLevel:
    available: int
    reserved: int


def _sku_row(sku: str) -> str:
    return check_key(f"sku:{sku}")


def _reservation_row(order_id: str) -> str:
    return check_key(f"reservation:{order_id}")


def _new_sku(sku: str, available: int) -> dict[str, Any]:
    key = {"PartitionKey": PARTITION, "RowKey": _sku_row(sku), "sku": sku}
    return {**key, "available": available, "reserved": 0}


def _replace(entity: Mapping[str, Any]) -> tuple[str, Mapping[str, Any], dict[str, Any]]:
    etag = entity.metadata["etag"]  # type: ignore[attr-defined]
    options = {"mode": UpdateMode.REPLACE, "etag": etag}
    return ("update", entity, {**options, "match_condition": MatchConditions.IfNotModified})


class StockStore(TableStore):
    """Reserve and release an order's units; both are idempotent per order id."""

    MAX_ATTEMPTS = 40
    # Measured on Azurite with 200 callers racing for 50 units of one SKU: waits of up to
    # 0.1 s doubling to 4 s needed ~1,300 transactions in all; 0.02 s to 1 s needed ~2,100
    # (callers retrying sooner mostly collide again). Without contention nothing waits.
    BACKOFF = Backoff(first_seconds=0.1, max_seconds=4.0)

    def level(self, sku: str) -> StockLevel:
        row = get_or_none(self._table, PARTITION, _sku_row(sku)) or {}
        return StockLevel(int(row.get("available", 0)), int(row.get("reserved", 0)))

    def set_level(self, sku: str, available: int) -> None:
        """Set the units on the shelf (stock-take or restock); reservations are kept as they are."""
        if available < 0:
            raise ValueError("available must be 0 or more")
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            row = get_or_none(self._table, PARTITION, _sku_row(sku))
            try:
                if row is None:
                    self._table.create_entity(_new_sku(sku, available))
                else:
                    row["available"] = available
                    self._table.update_entity(row, **_replace(row)[2])
                return
            except (ResourceExistsError, ResourceModifiedError):
                self.BACKOFF.wait(attempt)
        raise TransientFailure(f"stock of {sku}: too many concurrent changes")

    def reservation(self, order_id: str) -> tuple[ReservationState, dict[str, int]] | None:
        """The order's reservation state and units per SKU, or None if it never had one."""
        row = get_or_none(self._table, PARTITION, _reservation_row(order_id))
        if row is None:
            return None
        return ReservationState(row["state"]), json.loads(row["units"])

    def reserve(self, order_id: str, units: Mapping[str, int]) -> bool:
        """Take `units` (per SKU) for the order, all or none: True if this call took them.

        Raises OutOfStock (the first short SKU) or ReservationReleased; TransientFailure when
        other writers kept winning for `max_attempts` rounds.
        """
        wanted = {sku: units[sku] for sku in sorted(units)}
        if self._already_reserved(order_id):
            return False
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            found = {sku: get_or_none(self._table, PARTITION, _sku_row(sku)) for sku in wanted}
            rows = {sku: row for sku, row in found.items() if row is not None}
            available = {sku: int(row["available"]) for sku, row in rows.items()}
            # Raises OutOfStock, also for a SKU without a row, so every wanted SKU is in `rows`.
            remaining = remaining_after(available, wanted)
            operations: list[Any] = []
            for sku, row in rows.items():
                row["available"] = remaining[sku]
                row["reserved"] = int(row.get("reserved", 0)) + wanted[sku]
                operations.append(_replace(row))
            operations.append(("create", self._reservation(order_id, wanted)))
            conflict = self._commit(operations)
            if conflict is None:
                self._fault("stock.reserved")
                return True
            # 409: the reservation row exists, so a racing copy of this call won; 412: a SKU
            # changed since we read it, so read again (the reservation is re-read only on 409).
            if conflict == 409 and self._already_reserved(order_id):
                return False
            self.BACKOFF.wait(attempt)
        raise TransientFailure(f"stock for order {order_id}: too many concurrent reservations")

    def _already_reserved(self, order_id: str) -> bool:
        existing = get_or_none(self._table, PARTITION, _reservation_row(order_id))
        if existing is None:
            return False
        if existing["state"] == ReservationState.RELEASED:
            raise ReservationReleased(order_id)
        return True

    def release(self, order_id: str) -> bool:
        """Give the order's units back: True if the order holds (or held) a reservation.

        Idempotent: a released reservation stays released. With no reservation at all, a
        tombstone is written so a late duplicate of `reserve` cannot take stock afterwards.
        """
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            existing = get_or_none(self._table, PARTITION, _reservation_row(order_id))
            if existing is None:
                tombstone = self._reservation(order_id, {}, ReservationState.RELEASED)
                if self._commit([("create", tombstone)]) is None:
                    self._fault("stock.released")
                    return False
                continue
            units: dict[str, int] = json.loads(existing["units"])
            if existing["state"] == ReservationState.RELEASED:
                return bool(units)
            operations: list[Any] = []
            for sku, count in units.items():
                row = get_or_none(self._table, PARTITION, _sku_row(sku))
                if row is None:  # the SKU was removed meanwhile: put the units back on a new row
                    operations.append(("create", _new_sku(sku, count)))
                    continue
                row["available"] = int(row["available"]) + count
                row["reserved"] = max(0, int(row.get("reserved", 0)) - count)
                operations.append(_replace(row))
            existing["state"] = str(ReservationState.RELEASED)
            operations.append(_replace(existing))
            if self._commit(operations) is None:
                self._fault("stock.released")
                return True
            self.BACKOFF.wait(attempt)
        raise TransientFailure(f"stock for order {order_id}: too many concurrent releases")

    def _reservation(
        self,
        order_id: str,
        units: Mapping[str, int],
        state: ReservationState = ReservationState.RESERVED,
    ) -> dict[str, Any]:
        return {
            "PartitionKey": PARTITION,
            "RowKey": _reservation_row(order_id),
            "order_id": order_id,
            "state": str(state),
            "units": json.dumps(dict(units), separators=(",", ":")),
        }

    def _commit(self, operations: list[Any]) -> int | None:
        """Submit one all-or-none transaction; the conflict status if another writer won."""
        try:
            self._table.submit_transaction(operations)
        except TableTransactionError as error:
            if error.status_code in _CONFLICTS:
                return int(error.status_code)
            raise
        return None
