"""Orders in Table storage, one partition per UTC day so a day's orders are one partition query.

- PartitionKey = the day received (UTC, yyyy-MM-dd), RowKey = order id: the order row (status,
  total_cents as Int64, currency, express, line_count, lines as JSON, customer_ref, reason,
  created_at, updated_at). The nightly report reads a day with `PartitionKey eq '<day>'`.
- PartitionKey = "order-index", RowKey = order id: the order's `day`, so a lookup by id is two
  point reads (the day in the id would leak storage layout into ids that customers choose).
- PartitionKey = "approval-decision", RowKey = order id: the first approver's decision, inserted
  if absent, so of two approvers (or two clicks) exactly one decides.
- PartitionKey = "order-hub", RowKey = order id: the task hub (`main` or `express`) that runs
  the order, inserted if absent before either hub starts it, so an order sent both ways runs
  once, and the API finds it without asking both hubs. No row: the main hub (orders started
  before the express app existed ran there).

The index row is written first and never changes, so it decides the order's day: a duplicate
message that arrives after midnight lands on the original row, not a second one.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import UpdateMode

from adapters.tables import TableStore, check_key, get_or_none, insert_if_absent, int64, plain
from domain.failures import TransientFailure
from domain.order_records import OrderNotFound, OrderRecord, next_status, order_day
from domain.orders import Order, OrderStatus
from domain.payload import read
from domain.reports import OrderFacts

logger = logging.getLogger(__name__)

INDEX_PARTITION = "order-index"
DECISION_PARTITION = "approval-decision"
HUB_PARTITION = "order-hub"
# A Table transaction holds at most 100 operations, all in one partition.
_TRANSACTION_SIZE = 100
# What the nightly report reads of an order row: no customer reference, nothing personal.
_FACT_COLUMNS = ["RowKey", "status", "currency", "total_cents", "express", "lines"]


def _entity(order: Order, day: str, now: datetime) -> dict[str, Any]:
    lines = order.dump()["lines"]
    return {
        "PartitionKey": day,
        "RowKey": check_key(order.order_id),
        "status": str(OrderStatus.RECEIVED),
        "total_cents": int64(order.total_cents),
        "currency": order.currency,
        "express": order.express,
        "line_count": len(order.lines),
        "lines": json.dumps(lines, separators=(",", ":")),
        "customer_ref": order.customer_ref,
        "reason": "",
        "created_at": now,
        "updated_at": now,
    }


def _record(entity: dict[str, Any]) -> OrderRecord:
    return read(
        OrderRecord,
        {
            "order_id": entity["RowKey"],
            "order_day": entity["PartitionKey"],
            "status": entity["status"],
            "currency": entity["currency"],
            "total_cents": plain(entity["total_cents"]),
            "express": bool(entity["express"]),
            "lines": json.loads(entity["lines"]),
            "customer_ref": entity["customer_ref"],
            "reason": entity.get("reason") or "",
            "created_at": entity["created_at"],
            "updated_at": entity["updated_at"],
        },
    )


class OrderStore(TableStore):
    """Create-if-absent and ETag-guarded status changes; a terminal status is never replaced."""

    def create_if_absent(self, order: Order, received_at: datetime) -> tuple[OrderRecord, bool]:
        """Record a new order as Received; an order already recorded is returned unchanged."""
        index = {
            "PartitionKey": INDEX_PARTITION,
            "RowKey": check_key(order.order_id),
            "day": order_day(received_at),
        }
        stored_index, _ = insert_if_absent(self._table, index)
        self._fault("orders.indexed")
        entity = _entity(order, stored_index["day"], self._now())
        stored, created = insert_if_absent(self._table, entity)
        if created:
            self._fault("orders.created")
        return _record(stored), created

    def claim_hub(self, order_id: str, hub: str) -> str:
        """The hub that runs the order: `hub` if this call claimed it first, else the winner's."""
        claim = {"PartitionKey": HUB_PARTITION, "RowKey": check_key(order_id), "hub": hub}
        stored, _ = insert_if_absent(self._table, claim)
        return str(stored["hub"])

    def hub_of(self, order_id: str) -> str | None:
        """The hub claimed for the order, or None when none was (never started, or older)."""
        claim = get_or_none(self._table, HUB_PARTITION, check_key(order_id))
        return None if claim is None else str(claim["hub"])

    def claim_decision(self, order_id: str, approver: str, approved: bool) -> bool:
        """True if this call is the order's first decision; False if one was claimed before."""
        claim = {
            "PartitionKey": DECISION_PARTITION,
            "RowKey": check_key(order_id),
            "approver": approver,
            "approved": approved,
            "decided_at": self._now(),
        }
        _, created = insert_if_absent(self._table, claim)
        return created

    def release_decision(self, order_id: str) -> None:
        """Give a claim back (its event could not be raised), so the decision can be retried."""
        self._table.delete_entity(DECISION_PARTITION, check_key(order_id))

    def decision_of(self, order_id: str) -> bool | None:
        """The claimed decision (approved or not), or None when nobody has decided."""
        claim = get_or_none(self._table, DECISION_PARTITION, check_key(order_id))
        return None if claim is None else bool(claim["approved"])

    def get(self, order_id: str) -> OrderRecord | None:
        entity = self._entity(order_id)
        return None if entity is None else _record(entity)

    def require(self, order_id: str) -> OrderRecord:
        record = self.get(order_id)
        if record is None:
            raise OrderNotFound(order_id)
        return record

    def update_status(
        self, order_id: str, status: OrderStatus, reason: str | None = None
    ) -> OrderRecord:
        """Move the order to `status` (with `reason`, or none) unless it already ended.

        Read, decide, then write with If-Match on the ETag read: a writer that lost a race
        re-reads and decides again, so no update is lost and an ended order stays ended.
        """
        for _ in range(self.MAX_ATTEMPTS):
            entity = self._entity(order_id)
            if entity is None:
                raise OrderNotFound(order_id)
            current = OrderStatus(entity["status"])
            target = next_status(current, status)
            if target is not status:
                logger.warning(
                    "Order %s is %s (final); %s was not applied", order_id, current, status
                )
            new_reason = (reason or "") if target is status else entity.get("reason", "")
            if target is current and new_reason == (entity.get("reason") or ""):
                return _record(entity)
            etag = entity.metadata["etag"]  # type: ignore[attr-defined]
            entity.update(status=str(target), reason=new_reason, updated_at=self._now())
            try:
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.MERGE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue
            self._fault("orders.status-updated")
            return _record(entity)
        raise TransientFailure(f"order {order_id}: too many concurrent status updates")

    def order_ids_of_day(self, day: str, after: str | None, limit: int) -> list[str]:
        """Up to `limit` order ids of `day` after `after`, in key order (keys only)."""
        query, parameters = _day_query(day, after, None)
        rows = self._table.query_entities(
            query, parameters=parameters, select=["RowKey"], results_per_page=min(limit, 1000)
        )
        ids: list[str] = []
        for row in rows:
            ids.append(row["RowKey"])
            if len(ids) >= limit:
                break
        return ids

    def order_facts_of_day(self, day: str, after: str | None, through: str) -> list[OrderFacts]:
        """The report's view of `day`'s orders with `after` < id <= `through`, in key order."""
        query, parameters = _day_query(day, after, through)
        rows = self._table.query_entities(
            query, parameters=parameters, select=_FACT_COLUMNS, results_per_page=1000
        )
        return [_facts(row) for row in rows]

    def import_orders(self, orders: list[Order], received_at: datetime) -> int:
        """Bulk-load orders that are not recorded yet (seeding, benchmarks, migrations).

        Index rows and order rows go in transactions of 100; a transaction that meets an
        existing order fails whole, so import only into a day that holds none of them.
        """
        day = order_day(received_at)
        now = self._now()
        index = [
            {"PartitionKey": INDEX_PARTITION, "RowKey": check_key(o.order_id), "day": day}
            for o in orders
        ]
        rows = [_entity(order, day, now) for order in orders]
        for entities in (index, rows):
            for start in range(0, len(entities), _TRANSACTION_SIZE):
                batch = entities[start : start + _TRANSACTION_SIZE]
                self._table.submit_transaction([("create", entity) for entity in batch])
        return len(orders)

    def _entity(self, order_id: str) -> Any:
        index = get_or_none(self._table, INDEX_PARTITION, check_key(order_id))
        if index is None:
            return None
        return get_or_none(self._table, index["day"], order_id)


def _day_query(day: str, after: str | None, through: str | None) -> tuple[str, dict[str, str]]:
    """The filter and parameters of `day`'s rows with `after` < RowKey <= `through`."""
    query, parameters = "PartitionKey eq @day", {"day": day}
    if after is not None:
        query += " and RowKey gt @after"
        parameters["after"] = after
    if through is not None:
        query += " and RowKey le @through"
        parameters["through"] = through
    return query, parameters


def _facts(entity: dict[str, Any]) -> OrderFacts:
    units = sum(int(line["quantity"]) for line in json.loads(entity["lines"]))
    return OrderFacts(
        order_id=entity["RowKey"],
        status=str(entity["status"]),
        currency=str(entity["currency"]),
        total_cents=int(plain(entity["total_cents"])),
        units=units,
        express=bool(entity["express"]),
    )
