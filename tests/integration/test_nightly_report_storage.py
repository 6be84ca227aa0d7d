"""The report's storage on Azurite: key ranges of a day, bulk import, files, paged sweeping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import HttpResponseError

from activities.reports import plan_report_chunks, sum_report_page, write_report
from adapters.factory import ReportAdapters, build_report_adapters
from app_config import OrderStorageNames, StorageConnection
from devhost.azurite import Azurite
from domain.failures import PermanentFailure
from domain.orders import Order, OrderLine

DAY = "2025-06-30"


@pytest.fixture
def adapters(azurite: Azurite) -> ReportAdapters:
    suffix = uuid.uuid4().hex[:8]
    names = OrderStorageNames(
        orders_table=f"reportorders{suffix}", claim_check_container=f"claims-{suffix}"
    )
    connection = StorageConnection(connection_string=azurite.connection_string)
    return build_report_adapters(connection, names, f"reports-{suffix}")


def orders(count: int, prefix: str = "o") -> list[Order]:
    return [
        Order(
            order_id=f"{prefix}-{i:03d}",
            customer_ref="claim://x/customers/y.json",
            currency="EUR",
            lines=(OrderLine(sku="SKU-1", quantity=2, unit_price_cents=150),),
        )
        for i in range(count)
    ]


def test_a_day_is_read_by_key_range_and_other_days_never_leak_in(adapters: ReportAdapters) -> None:
    store = adapters.orders
    store.import_orders(orders(12), datetime(2025, 6, 30, 23, 59, tzinfo=UTC))
    store.import_orders(orders(3, "x"), datetime(2025, 7, 1, 0, 0, tzinfo=UTC))
    assert store.order_ids_of_day(DAY, None, 5) == [f"o-{i:03d}" for i in range(5)]
    assert store.order_ids_of_day(DAY, "o-009", 5) == ["o-010", "o-011"]
    facts = store.order_facts_of_day(DAY, "o-002", "o-005")
    assert [f.order_id for f in facts] == ["o-003", "o-004", "o-005"]
    assert facts[0].units == 2 and facts[0].total_cents == 300 and facts[0].status == "Received"
    # The imported orders are ordinary orders: lookups by id find them.
    assert store.require("x-001").order_day == "2025-07-01"
    with pytest.raises(HttpResponseError):  # a batch meeting an existing order fails whole
        store.import_orders(orders(1), datetime(2025, 6, 30, tzinfo=UTC))


def test_the_activities_plan_sum_and_write_idempotently(adapters: ReportAdapters) -> None:
    adapters.orders.import_orders(orders(7), datetime(2025, 6, 30, 8, tzinfo=UTC))
    policy = {"page_size": 2, "pages_per_chunk": 2, "chunks_per_wave": 1}
    plan = plan_report_chunks({"day": DAY, "after": None, "policy": policy}, adapters)
    assert plan == {
        "chunks": [{"index": 0, "after": None, "bounds": ["o-001", "o-003"]}],
        "after": "o-003",
        "more": True,
    }
    page = sum_report_page({"day": DAY, "after": "o-003", "through": "o-006"}, adapters)
    assert page == {"totals": {"cells": [["EUR", "Received", 3, 900, 6, 0]]}, "orders": 3}
    with pytest.raises(PermanentFailure, match="invalid sum_report_page input"):
        sum_report_page({"day": DAY, "after": None}, adapters)
    payload = {"day": DAY, "totals": page["totals"], "chunks": 1}
    first = write_report(payload, adapters)
    body = adapters.reports.read(f"{DAY}.csv")
    assert write_report(payload, adapters) == first
    assert adapters.reports.read(f"{DAY}.csv") == body
    assert adapters.reports.exists(DAY) and not adapters.reports.exists("2025-06-29")


def test_sweeping_lists_page_by_page(adapters: ReportAdapters) -> None:
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        adapters.reports.put(day, b"{}", b"")
    sweeper = adapters.reports.sweeper
    first = sweeper.page(None, None, 4)
    second = sweeper.page(None, first.next_token, 4)
    assert len(first.entries) == 4 and first.next_token is not None
    assert len(second.entries) == 2 and second.next_token is None
    assert sweeper.delete(["2025-01-01.json", "2025-01-01.json", "missing.csv"]) == 1
