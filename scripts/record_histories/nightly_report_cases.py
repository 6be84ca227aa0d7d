"""The nightly report's representative paths on the batch_jobs app (the real orchestrators and
activities on Azurite), with a small chunking policy so a few orders make several chunks.

Each case seeds its own day's orders at a fixed time and starts the report with the timer's
instance id (`nightly-report-<day>`); the chunks are recorded as their own files under
nightly_report_chunk/. Only the last execution of a report that continued as new is kept by
devhost, so the three-wave case records the final wave (its input carries the earlier waves'
totals and cursor) and the chunk it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.orders import Order, OrderLine, OrderStatus
from domain.reports import ChunkingPolicy, ReportRun
from scripts.record_histories import batch_storage
from scripts.record_histories.recording import Case, Session, Suite

# 5 orders a page, 2 pages a chunk, 2 chunks a wave: 47 orders make 5 chunks in 3 waves.
POLICY = ChunkingPolicy(page_size=5, pages_per_chunk=2, chunks_per_wave=2)
# Statuses cycle so every report has more than one row.
STATUSES = (OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.RECEIVED)


def _seed(session: Session, day: str, count: int) -> None:
    """`count` orders received at noon on `day`: EUR/USD/GBP in turn, every fifth express."""
    orders = [
        Order(
            order_id=f"{day}-{i:03d}",
            customer_ref=f"claim://private/customers/{day}-{i:03d}.json",
            currency=("EUR", "USD", "GBP")[i % 3],
            lines=(OrderLine(sku="SKU-A", quantity=i % 2 + 1, unit_price_cents=1000 + i),),
            express=i % 5 == 0,
        )
        for i in range(count)
    ]
    store = batch_storage.report_adapters(session.host.env["AzureWebJobsStorage"]).orders
    store.import_orders(orders, datetime.fromisoformat(f"{day}T12:00:00+00:00"))
    for i, order in enumerate(orders):
        status = STATUSES[i % len(STATUSES)]
        if status is not OrderStatus.RECEIVED:
            store.update_status(order.order_id, status)


def _report(day: str, orders: int) -> Callable[[Session], str]:
    def drive(session: Session) -> str:
        if orders:
            _seed(session, day, orders)
        session.host.set_time(auto_advance=True)
        instance_id = f"nightly-report-{day}"
        session.host.start_orchestration(
            "nightly_report", ReportRun(day=day, policy=POLICY).dump(), instance_id
        )
        status = session.host.wait_for(instance_id, timeout=120)
        if status["runtimeStatus"] != "Completed":
            raise RuntimeError(f"{instance_id} ended {status['runtimeStatus']}: {status}")
        return instance_id

    return drive


CASES = (
    Case(
        "empty_day",
        "no orders that day: an empty plan, then an empty report",
        _report("2001-01-01", 0),
    ),
    Case(
        "one_chunk",
        "8 orders: one wave of one chunk (two pages), then the report",
        _report("2024-03-01", 8),
    ),
    Case(
        "three_waves_last",
        "47 orders in 5 chunks and 3 waves: the last execution (chunk 5) after two "
        "continue-as-new, then the report",
        _report("2024-02-29", 47),
    ),
)

SUITE = Suite("nightly_report", batch_storage.APP, CASES, env=batch_storage.env, azurite=True)
