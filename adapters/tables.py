"""Small Table-storage idioms shared by the adapters: insert-if-absent, Int64, plain values,
backoff, and the base of every store over one Table."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient

from adapters.faults import FaultHook, no_fault
from domain.payload import MAX_TABLE_KEY, TABLE_KEY_PATTERN

_TABLE_KEY = re.compile(TABLE_KEY_PATTERN)


def check_key(value: str) -> str:
    """`value` if it is a Table key (domain.payload's rule). Every key this app writes is built
    from validated ids, so this is a last line of defence, not a sanitiser."""
    if len(value) > MAX_TABLE_KEY or not _TABLE_KEY.fullmatch(value):
        raise ValueError("not usable as a Table key")
    return value


def int64(value: int) -> EntityProperty:
    """Plain ints are sent as Int32, which refuses totals above 2**31 - 1 cents."""
    return EntityProperty(value, EdmType.INT64)


def plain(value: Any) -> Any:
    """The Python value of a property (Int64 properties come back wrapped)."""
    return value.value if isinstance(value, EntityProperty) else value


def get_or_none(table: TableClient, partition: str, row: str) -> dict[str, Any] | None:
    try:
        return table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None


def insert_if_absent(table: TableClient, entity: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Insert `entity` unless its key exists: returns the stored entity and whether it was ours.

    An insert fails on an existing key (409), so of two racing writers exactly one wins and the
    other reads the winner's row: the conditional write that makes a side effect happen once.
    """
    try:
        table.create_entity(entity)
    except ResourceExistsError:
        stored = table.get_entity(entity["PartitionKey"], entity["RowKey"])
        return stored, False
    return dict(entity), True


@dataclass(frozen=True)
class Backoff:
    """Waits between optimistic-concurrency attempts: exponential, capped, fully jittered (so
    writers that collided mostly do not retry at the same instant, only to collide again)."""

    first_seconds: float = 0.05
    max_seconds: float = 2.0

    def wait(self, attempt: int) -> None:
        ceiling = min(self.max_seconds, self.first_seconds * 2 ** (attempt - 1))
        time.sleep(random.uniform(0, ceiling))


class TableStore:
    """An adapter over one Table, with the fault hook tests pass; its optimistic-concurrency
    loops try MAX_ATTEMPTS times with BACKOFF between tries (a class may change both)."""

    MAX_ATTEMPTS = 20
    BACKOFF = Backoff()

    def __init__(self, table: TableClient, *, fault: FaultHook = no_fault) -> None:
        self._table, self._fault = table, fault

    def _now(self) -> datetime:
        return datetime.now(UTC)
