"""Order-workflow worlds on Azurite: fresh tables and container each, a fault hook, a snapshot."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from adapters.factory import OrderAdapters, build_order_adapters
from adapters.payments import SIMULATED
from adapters.tables import plain
from app_config import OrderStorageNames, StorageConnection
from devhost.azurite import Azurite

# Ids the adapters generate at random: equal worlds differ only in these.
_GENERATED_IDS = re.compile(r"pay_.+_[0-9a-f]{16}|re_[0-9a-f]{24}|TRK-[0-9A-F]{12}")


class Crash(Exception):
    """A process dying at a fault point: after the side effect, before the activity returns."""


@dataclass
class Faults:
    """The worlds' fault hook: raises Crash once at each armed point."""

    armed: set[str] = field(default_factory=set)
    hits: list[str] = field(default_factory=list)

    def __call__(self, point: str) -> None:
        self.hits.append(point)
        if point in self.armed:
            self.armed.discard(point)
            raise Crash(point)


@dataclass
class World:
    adapters: OrderAdapters
    names: OrderStorageNames
    faults: Faults
    connection_string: str

    def snapshot(self) -> dict[str, Any]:
        """Every row and blob the world holds, without timestamps and with generated ids masked:
        what "storage equals one run" compares."""
        tables = TableServiceClient.from_connection_string(self.connection_string)
        state: dict[str, Any] = {}
        for label in ("orders", "stock", "payments", "shipments", "outbox"):
            table = tables.get_table_client(getattr(self.names, f"{label}_table"))
            rows = [_normal(row) for row in table.list_entities()]
            state[label] = sorted(rows, key=lambda r: (r["PartitionKey"], r["RowKey"]))
        blobs = BlobServiceClient.from_connection_string(self.connection_string)
        container = blobs.get_container_client(self.names.claim_check_container)
        state["claims"] = {
            blob.name: container.download_blob(blob.name).readall().decode()
            for blob in container.list_blobs()
        }
        return state


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    normal = {}
    for key, value in row.items():
        value = plain(value)
        if isinstance(value, datetime):
            continue
        if isinstance(value, str):
            value = _GENERATED_IDS.sub("<generated>", value)
        normal[key] = value
    return normal


@pytest.fixture
def make_world(azurite: Azurite) -> Callable[[], World]:
    """Build worlds on the session's Azurite; each has its own tables and private container."""

    def make() -> World:
        suffix = uuid.uuid4().hex[:12]
        names = OrderStorageNames(
            orders_table=f"orders{suffix}",
            stock_table=f"stock{suffix}",
            payments_table=f"ledger{suffix}",
            shipments_table=f"shipments{suffix}",
            outbox_table=f"outbox{suffix}",
            claim_check_container=f"private-{suffix}",
        )
        faults = Faults()
        connection = StorageConnection(connection_string=azurite.connection_string)
        adapters = build_order_adapters(connection, names, payment_provider=SIMULATED, fault=faults)
        return World(adapters, names, faults, azurite.connection_string)

    return make


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


@pytest.fixture
def crash() -> type[Crash]:
    """What an armed fault point raises (test modules cannot import conftest)."""
    return Crash
