"""The nightly report and retention end to end: the app at the repository root on devhost,
Azurite, real activities. Exact totals for known orders, histories under their stated limit,
the timer starting one run per day (overlaps logged), and retention removing only what is old
and finished. Tables and containers are the module's own, so other tests' data cannot leak in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from adapters.claim_check import ClaimCheckStore
from adapters.factory import ReportAdapters, build_order_adapters, build_report_adapters
from adapters.payments import SIMULATED
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.durable.api import client_binding_json
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until
from domain.orders import Order, OrderLine, OrderStatus
from domain.reports import ChunkingPolicy, ReportRun, history_limits, report_day_for
from domain.retention import RetentionPolicy
from triggers.retention_timer import run_retention
from triggers.start_once import Started

EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
POLICY = ChunkingPolicy(page_size=5, pages_per_chunk=2, chunks_per_wave=2)
KNOWN_DAY = "2024-02-29"
KNOWN_COUNT = 47  # 5 chunks of 10 (the last one 7) in 3 waves: continue-as-new twice


@dataclass
class Reports:
    host: DevHostProcess
    env: dict[str, str]
    storage: str
    adapters: ReportAdapters
    claims: ClaimCheckStore

    def run_report(self, day: str, timeout: float = 120) -> tuple[dict[str, Any], int]:
        """Start the report for `day` as the timer would, sampling the parent's history size."""
        instance_id = f"nightly-report-{day}"
        largest = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):  # not created yet
                    largest[0] = max(largest[0], len(self.host.raw_history(instance_id)))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            run = ReportRun(day=day, policy=POLICY)
            self.host.start_orchestration("nightly_report", run.dump(), instance_id)
            status = self.host.wait_for(instance_id, timeout=timeout)
        finally:
            stop.set()
            sampler.join()
        largest[0] = max(largest[0], len(self.host.raw_history(instance_id)))
        return status, largest[0]


@pytest.fixture(scope="module")
def reports(
    azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    both_apps: Callable[..., AbstractContextManager[Any]],
) -> Iterator[Reports]:
    """The app in both roles (retention purges both task hubs), the main one's host kept."""
    state = tmp_path_factory.mktemp("nightly-e2e")
    suffix = uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ServiceBusConnection": EMULATOR,
        "AzureFunctionsWebHost__hostid": f"nightly-{suffix}",
        "ORDERS_TABLE": f"nightlyorders{suffix}",
        "REPORTS_CONTAINER": f"reports-{suffix}",
        "CLAIM_CHECK_CONTAINER": f"private-{suffix}",
        "REPORT_PAGE_SIZE": str(POLICY.page_size),
        "REPORT_PAGES_PER_CHUNK": str(POLICY.pages_per_chunk),
        "REPORT_CHUNKS_PER_WAVE": str(POLICY.chunks_per_wave),
        # Every two seconds, so one test sees the timer fire again and again for one day.
        "NIGHTLY_REPORT_SCHEDULE": "*/2 * * * * *",
        "RETENTION_SCHEDULE": "0 0 0 1 1 *",
    }
    connection = StorageConnection(connection_string=azurite.connection_string)
    names = order_storage_names(env)
    adapters = build_report_adapters(connection, names, env["REPORTS_CONTAINER"])
    claims = build_order_adapters(connection, names, payment_provider=SIMULATED).claims
    seed_yesterday(adapters)
    with both_apps(PROJECT_ROOT, state_dir=state, env=env) as apps:
        yield Reports(apps.main, env, azurite.connection_string, adapters, claims)


def seed_yesterday(adapters: ReportAdapters) -> None:
    """Three USD orders for the day the timer reports on, before it first fires."""
    day = report_day_for(datetime.now(UTC))
    orders = [
        Order(
            order_id=f"timer-{i}",
            customer_ref=f"claim://x/customers/timer-{i}.json",
            currency="USD",
            lines=(OrderLine(sku="SKU-T", quantity=1, unit_price_cents=500),),
        )
        for i in range(3)
    ]
    adapters.orders.import_orders(orders, datetime.fromisoformat(f"{day}T08:00:00+00:00"))


def known_orders() -> list[Order]:
    """Order i: EUR/USD/GBP in turn, i % 2 + 1 units at 1000 + i cents, express every 5th."""
    return [
        Order(
            order_id=f"known-{i:03d}",
            customer_ref=f"claim://x/customers/known-{i:03d}.json",
            currency=("EUR", "USD", "GBP")[i % 3],
            lines=(OrderLine(sku="SKU-A", quantity=i % 2 + 1, unit_price_cents=1000 + i),),
            express=i % 5 == 0,
        )
        for i in range(KNOWN_COUNT)
    ]


def known_status(i: int) -> OrderStatus:
    """Every fourth order completed, the one after it failed, the rest still received."""
    return {0: OrderStatus.COMPLETED, 1: OrderStatus.FAILED}.get(i % 4, OrderStatus.RECEIVED)


def expected_rows(
    orders: list[Order], statuses: list[OrderStatus]
) -> dict[tuple[str, str], list[int]]:
    """The sums by hand: a plain loop, independent of domain.reports."""
    rows: dict[tuple[str, str], list[int]] = {}
    for order, status in zip(orders, statuses, strict=True):
        row = rows.setdefault((order.currency, str(status)), [0, 0, 0, 0])
        row[0] += 1
        row[1] += order.total_cents
        row[2] += sum(line.quantity for line in order.lines)
        row[3] += 1 if order.express else 0
    return rows


def report_known_day(reports: Reports) -> tuple[dict[str, Any], int]:
    """The known orders stored for KNOWN_DAY, then its report run (five chunks)."""
    orders = known_orders()
    statuses = [known_status(i) for i in range(KNOWN_COUNT)]
    store = reports.adapters.orders
    store.import_orders(orders, datetime.fromisoformat(f"{KNOWN_DAY}T12:00:00+00:00"))
    for order, status in zip(orders, statuses, strict=True):
        if status is not OrderStatus.RECEIVED:
            store.update_status(order.order_id, status)
    return reports.run_report(KNOWN_DAY)


def test_known_orders_give_exact_reports_and_short_histories(reports: Reports) -> None:
    orders, statuses = known_orders(), [known_status(i) for i in range(KNOWN_COUNT)]
    status, largest_parent = report_known_day(reports)
    assert status["runtimeStatus"] == "Completed", status
    container = reports.env["REPORTS_CONTAINER"]
    assert status["output"] == {
        "day": KNOWN_DAY,
        "orders": KNOWN_COUNT,
        "chunks": 5,
        "blobs": [f"{container}/{KNOWN_DAY}.json", f"{container}/{KNOWN_DAY}.csv"],
    }

    document = json.loads(reports.adapters.reports.read(f"{KNOWN_DAY}.json"))
    rows = expected_rows(orders, statuses)
    assert document["orders"] == 47 and document["chunks"] == 5
    assert {s: n for s, n in document["by_status"].items() if n} == {
        "Completed": sum(v[0] for (c, s), v in rows.items() if s == "Completed"),
        "Failed": sum(v[0] for (c, s), v in rows.items() if s == "Failed"),
        "Received": sum(v[0] for (c, s), v in rows.items() if s == "Received"),
    }
    assert document["by_currency"]["EUR"]["orders"] == 16
    assert document["by_currency"]["EUR"]["total_cents"] == sum(
        o.total_cents for o in orders if o.currency == "EUR"
    )
    assert document["express_orders"] == 10
    assert document["units"] == sum(i % 2 + 1 for i in range(KNOWN_COUNT))
    csv_lines = reports.adapters.reports.read(f"{KNOWN_DAY}.csv").decode().splitlines()
    cells = {(r[1], r[2]): [int(x) for x in r[3:]] for r in (x.split(",") for x in csv_lines[1:])}
    assert {k: v for k, v in cells.items() if k[1] != "ALL"} == rows

    # Every history stays under its stated limit: the chunks' (complete) and the parent's.
    limits = history_limits(POLICY)
    chunk_sizes = [
        len(reports.host.raw_history(f"nightly-report-{KNOWN_DAY}:chunk-{i:05d}")) for i in range(5)
    ]
    assert max(chunk_sizes) <= limits.chunk, chunk_sizes
    assert 0 < largest_parent <= limits.parent

    # A rerun (a replaced failed run, say) writes the same bytes under the same names.
    first = reports.adapters.reports.read(f"{KNOWN_DAY}.json")
    reports.host.start_orchestration(
        "nightly_report", ReportRun(day=KNOWN_DAY, policy=POLICY).dump(), "rerun-known"
    )
    assert reports.host.wait_for("rerun-known", timeout=120)["runtimeStatus"] == "Completed"
    assert reports.adapters.reports.read(f"{KNOWN_DAY}.json") == first


def test_an_empty_day_gives_an_empty_report(reports: Reports) -> None:
    status, _ = reports.run_report("2001-01-01")
    assert status["output"]["orders"] == 0 and status["output"]["chunks"] == 0
    assert reports.adapters.reports.read("2001-01-01.csv").decode() == (
        "day,currency,status,orders,total_cents,units,express_orders\n"
    )


def test_the_timer_starts_yesterdays_report_once_and_logs_overlaps(reports: Reports) -> None:
    day = report_day_for(datetime.now(UTC))  # seeded by the fixture before the first tick
    instance_id = f"nightly-report-{day}"
    done = wait_until(
        lambda: (s := reports.host.status(instance_id)) and s["runtimeStatus"] == "Completed" and s
    )
    assert done["output"]["orders"] == 3
    # The timer fires every two seconds: later occurrences find the run and do not start it.
    wait_until(lambda: reports.host.logs().count(f"already has job {instance_id}") >= 2, 30)
    started = f"Started orchestration 'nightly_report' with instance id {instance_id}\n"
    assert reports.host.logs().count(started) == 1
    assert reports.host.status(instance_id)["createdTime"] == done["createdTime"]


def test_retention_removes_only_old_finished_things(reports: Reports) -> None:
    host, adapters = reports.host, reports.adapters
    # Something that is still running: a report chunk cannot wait, so an orchestration that
    # waits on a long durable timer stands in; the order workflow's approval wait is one.
    waiting_id = _start_waiting_order(reports)
    finished_id = "nightly-report-2001-01-01"
    if host.status(finished_id) is None:
        reports.run_report("2001-01-01")
    if host.status(f"nightly-report-{KNOWN_DAY}") is None:  # on its own worker (pytest -n)
        report_known_day(reports)
    container = adapters.reports
    container.put("2000-01-01", b"{}", b"")
    note = container._container.upload_blob("notes.txt", b"keep", overwrite=True)
    assert note is not None
    yesterday = report_day_for(datetime.now(UTC))
    container.put(yesterday, b"{}", b"")
    unknown_ref = reports.claims.put("gone-order", {"name": "Gone"})

    now = datetime.now(UTC)
    # Sixty days from now: instances (30 days) and reports about days before 30 days ago are
    # old; claim-check blobs (kept 90 days here) are not, yet.
    first = _retention(host, now + timedelta(days=60), claim_days=90)
    assert first["purged"] >= 6  # the report, its chunks, ...
    assert first["claims_deleted"] == 0
    assert host.status(finished_id) is None
    assert host.status(f"nightly-report-{KNOWN_DAY}:chunk-00000") is None
    assert host.status(waiting_id)["runtimeStatus"] == "Running"  # never purged
    names = {e.name for e in container.sweeper.page(None, None, 100).entries}
    assert "2000-01-01.json" not in names and "2000-01-01.csv" not in names
    assert f"{KNOWN_DAY}.json" not in names
    assert {"notes.txt", f"{yesterday}.json", f"{yesterday}.csv"} <= names

    # Claims kept 30 days: the unknown order's data goes, the waiting order's stays.
    second = _retention(host, now + timedelta(days=61), claim_days=30)
    assert second["claims_deleted"] == 1
    claims = {e.name for e in adapters.claims.page("customers/", None, 100).entries}
    assert f"customers/{waiting_id.removeprefix('order-')}.json" in claims
    assert unknown_ref.endswith("gone-order.json") and "customers/gone-order.json" not in claims
    first_run = f"retention-{(now + timedelta(days=60)).date().isoformat()}"
    assert host.status(first_run) is None  # finished, and older than the cutoff
    assert host.status(waiting_id)["runtimeStatus"] == "Running"


# The SDK keeps one global HTTP session, bound to the loop that made it: one loop for the module.
_LOOP = asyncio.new_event_loop()


@pytest.fixture(scope="module", autouse=True)
def _close_loop() -> Iterator[None]:
    yield
    from azure.durable_functions.models.utils.http_utils import _close_session

    _LOOP.run_until_complete(_close_session())
    _LOOP.close()


def _retention(host: DevHostProcess, as_of: datetime, claim_days: int) -> dict[str, Any]:
    """What the retention timer does, at an explicit time: purge with the app's own code
    through a durable client bound to this devhost, then run the blob clean-up."""
    policy = RetentionPolicy(instance_days=30, report_days=90, claim_days=claim_days)

    async def twice() -> tuple[Started, Started]:
        # The SDK's client keeps one HTTP session per event loop: one loop for both calls.
        client = df.DurableOrchestrationClient(
            client_binding_json(host.base_url, "JobsHub", "devhost-local-system-key")
        )
        return await run_retention(client, as_of, policy), await run_retention(
            client, as_of, policy
        )

    started, again = _LOOP.run_until_complete(twice())
    assert started.started and started.instance_id == f"retention-{as_of.date().isoformat()}"
    assert not again.started  # the day's run exists: not started twice
    status = host.wait_for(started.instance_id, timeout=120)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def _start_waiting_order(reports: Reports) -> str:
    """An order above the approval threshold: it waits (Running) for a decision for days."""
    connection = StorageConnection(connection_string=reports.storage)
    order_adapters = build_order_adapters(
        connection, order_storage_names(reports.env), payment_provider=SIMULATED
    )
    sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
    order_adapters.stock.set_level(sku, 5)
    order_id = f"wait-{uuid.uuid4().hex[:10]}"
    body = {
        "order_id": order_id,
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 500_000}],
        "customer": {"name": "Waiting", "email": "wait@example.invalid", "address": "1 Road"},
    }
    response = reports.host.http.post(reports.host.url("/api/orders"), json=body, timeout=30)
    assert response.status_code == 202, response.text
    instance_id = f"order-{order_id}"
    wait_until(
        lambda: (
            ((reports.host.status(instance_id) or {}).get("customStatus") or {}).get("step")
            == "awaiting_approval"
        )
    )
    return instance_id
