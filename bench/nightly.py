"""`python -m bench.nightly`: the nightly report over 10,000 and 100,000 seeded orders.

On devhost (the app at the repository root) with its own Azurite: seeds each size into a
day of its own with batched Table transactions (100 rows each, several threads), runs
`nightly_report` for that day with the app's default chunking, and prints the wall time per
order, its ratio to the smallest size's, and the largest history seen (the parent, sampled
while it runs, and every chunk, read afterwards) against the stated limits. Figures and the
machine's load go to bench/results/nightly-<time>.json; docs/nightly-report.md records them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient

from adapters.factory import ReportAdapters, build_report_adapters, table_service
from app_config import StorageConnection, order_storage_names
from bench.nightly_floor import measure_floor
from devhost.azurite import Azurite
from devhost.testing import DURABLE, PROJECT_ROOT, DevHostProcess
from domain.orders import Order, OrderLine
from domain.reports import ChunkingPolicy, ReportRun, history_limits

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CURRENCIES = ("EUR", "USD", "GBP")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.nightly", description=__doc__)
    parser.add_argument(
        "--records", type=int, nargs="+", default=[10_000, 100_000], help="orders per day"
    )
    parser.add_argument("--page-size", type=int, default=500, help="orders per activity")
    parser.add_argument("--pages-per-chunk", type=int, default=4)
    parser.add_argument("--chunks-per-wave", type=int, default=10)
    parser.add_argument("--seeders", type=int, default=4, help="threads seeding orders")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per report")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="report + floor pairs per size (the same day again); medians are reported",
    )
    return parser


def make_orders(day_index: int, count: int) -> list[Order]:
    return [
        Order(
            order_id=f"b{day_index}-{i:07d}",
            customer_ref=f"claim://orders-private/customers/b{day_index}-{i:07d}.json",
            currency=CURRENCIES[i % 3],
            lines=(OrderLine(sku="BOOK-1", quantity=1 + i % 3, unit_price_cents=1000 + i % 997),),
            express=i % 10 == 0,
        )
        for i in range(count)
    ]


def seed(adapters: ReportAdapters, day: str, orders: list[Order], threads: int) -> float:
    """Seed in slices of 1,000 on `threads` threads; returns seconds."""
    received = datetime.fromisoformat(f"{day}T12:00:00+00:00")
    slices = [orders[i : i + 1000] for i in range(0, len(orders), 1000)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda part: adapters.orders.import_orders(part, received), slices))
    return time.perf_counter() - started


def chunk_histories(host: DevHostProcess, instance_id: str) -> list[int]:
    """The history length of every chunk of a run (listed by instance id prefix)."""
    sizes, token = [], ""
    while True:
        response = host.http.get(
            host.url(f"{DURABLE}/instances?instanceIdPrefix={instance_id}:chunk-&top=500"),
            headers={"x-ms-continuation-token": token} if token else {},
            timeout=60,
        )
        sizes += [len(host.raw_history(item["instanceId"])) for item in response.json()]
        token = response.headers.get("x-ms-continuation-token", "")
        if not token:
            return sizes


def run_report(
    host: DevHostProcess, day: str, policy: ChunkingPolicy, timeout: float
) -> dict[str, Any]:
    instance_id = f"nightly-report-{day}"
    largest, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                largest[0] = max(largest[0], len(host.raw_history(instance_id)))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        host.start_orchestration(
            "nightly_report", ReportRun(day=day, policy=policy).dump(), instance_id
        )
        status = host.wait_for(instance_id, timeout=timeout)
    finally:
        stop.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if status["runtimeStatus"] != "Completed":
        raise RuntimeError(f"{instance_id} ended {status['runtimeStatus']}: {status.get('output')}")
    chunks = chunk_histories(host, instance_id)
    return {
        "seconds": seconds,
        "orders": status["output"]["orders"],
        "chunks": status["output"]["chunks"],
        "largest_parent_history_sampled": max(largest[0], len(host.raw_history(instance_id))),
        "largest_chunk_history": max(chunks, default=0),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    policy = ChunkingPolicy(
        page_size=args.page_size,
        pages_per_chunk=args.pages_per_chunk,
        chunks_per_wave=args.chunks_per_wave,
    )
    limits = history_limits(policy)
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-nightly-") as tmp:
        azurite = Azurite(Path(tmp) / "azurite", project_root=PROJECT_ROOT)
        azurite.start()
        try:
            env = {
                "AzureWebJobsStorage": azurite.connection_string,
                "ServiceBusConnection": (
                    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
                    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
                ),
                "TASK_HUB_NAME": "JobsHub",  # host.json reads it (local.settings.json.example)
                "EXPRESS_TASK_HUB_NAME": "JobsExpress",
                "ORDERS_TABLE": "benchorders",
                "REPORTS_CONTAINER": "bench-reports",
                "NIGHTLY_REPORT_SCHEDULE": "0 0 0 1 1 *",
                "RETENTION_SCHEDULE": "0 0 0 1 1 *",
            }
            connection = StorageConnection(connection_string=azurite.connection_string)
            names = order_storage_names(env)
            adapters = build_report_adapters(connection, names, "bench-reports")
            table = table_service(connection).get_table_client(names.orders_table)
            host = DevHostProcess(
                PROJECT_ROOT,
                state_dir=Path(tmp) / "state",
                env=env,
                extra_args=["--log-level", "WARNING"],
            )
            host.start()
            try:
                warm = "2000-01-01"
                seed(adapters, warm, make_orders(0, 200), args.seeders)
                run_report(host, warm, policy, args.timeout)  # imports, pages, connections
                for index, count in enumerate(args.records, start=1):
                    day = (datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=index)).date()
                    seeded = seed(
                        adapters, day.isoformat(), make_orders(index, count), args.seeders
                    )
                    result = measure_size(host, table, day.isoformat(), policy, count, args)
                    result.update(seed_seconds=seeded, load=os.getloadavg())
                    rows.append(result)
                    print(_line(result, rows[0]), flush=True)
            finally:
                host.close()
        finally:
            azurite.stop()
    summary = {
        "policy": policy.dump(),
        "limits": {"parent": limits.parent, "chunk": limits.chunk},
        "load_before": load_before,
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    print(f"history limits: parent {limits.parent} events per execution, chunk {limits.chunk}")
    ok = all(
        r["largest_parent_history_sampled"] <= limits.parent
        and r["largest_chunk_history"] <= limits.chunk
        for r in rows
    )
    ratio = rows[-1]["us_per_record"] / rows[0]["us_per_record"] if rows else 0.0
    print(f"per-record ratio largest/smallest: {ratio:.2f} (target <= 1.2); histories ok: {ok}")
    if rows:
        floor = rows[-1]["floor_us_per_record"] / rows[0]["floor_us_per_record"]
        print(
            f"storage floor per record, largest/smallest: {floor:.2f}; "
            f"overhead above the floor per record: {_overhead_ratio(rows)}"
        )
        summary.update(ratio=ratio, floor_ratio=floor)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"nightly-{stamp}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if ok else 1


def activity_slots() -> int:
    """host.json maxConcurrentActivityFunctions: how many report pages the app reads at once."""
    host = json.loads((PROJECT_ROOT / "host.json").read_text())
    durable = host.get("extensions", {}).get("durableTask", {})
    return int(durable.get("maxConcurrentActivityFunctions", 10))


def measure_size(
    host: DevHostProcess,
    table: TableClient,
    day: str,
    policy: ChunkingPolicy,
    count: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """`args.rounds` pairs of (report, its floor right after it); the median pair's figures.

    Pairs, not all reports then all floors, so a report and its floor see about the same load.
    """
    pairs = []
    for _ in range(max(1, args.rounds)):
        result = run_report(host, day, policy, args.timeout)
        assert result["orders"] == count, result
        result["records"] = count
        result["us_per_record"] = result["seconds"] / count * 1e6
        result.update(_floor(table, day, policy, count))
        result["overhead_us_per_record"] = result["us_per_record"] - result["floor_us_per_record"]
        pairs.append(result)
    overheads = [r["overhead_us_per_record"] for r in pairs]
    median = pairs[overheads.index(statistics.median_low(overheads))]
    median["rounds_overhead_us_per_record"] = overheads
    median["rounds_us_per_record"] = [r["us_per_record"] for r in pairs]
    median["rounds_floor_us_per_record"] = [r["floor_us_per_record"] for r in pairs]
    return median


def _floor(table: TableClient, day: str, policy: ChunkingPolicy, count: int) -> dict[str, Any]:
    """The report's own queries for `day`, alone, right after the report (bench/nightly_floor),
    with as many chunks read at once as the report can (chunks per wave, activity slots)."""
    workers = min(policy.chunks_per_wave, activity_slots())
    floor = measure_floor(table, day, policy, workers)
    assert floor.rows == count, floor
    return {
        "floor_workers": workers,
        "floor": floor.dump(),
        "floor_us_per_record": floor.seconds / count * 1e6,
        "table_rows": _table_rows(table),
    }


def _table_rows(table: TableClient) -> int:
    """Every row in the table (all days and the index): what Azurite scans for each query."""
    return sum(1 for _ in table.list_entities(select=["PartitionKey"], results_per_page=1000))


def _overhead_ratio(rows: list[dict[str, Any]]) -> str:
    """Largest/smallest overhead above the floor; a ratio means nothing once either is <= 0."""
    first, last = rows[0]["overhead_us_per_record"], rows[-1]["overhead_us_per_record"]
    if first <= 0 or last <= 0:
        return (
            f"{first:.0f} and {last:.0f} us/order: none measurable at "
            f"{'both sizes' if first <= 0 and last <= 0 else 'one size'} (target <= 1.2x)"
        )
    return f"{last / first:.2f} (target <= 1.2)"


def _line(row: dict[str, Any], first: dict[str, Any]) -> str:
    return (
        f"{row['records']:>7} orders: seed {row['seed_seconds']:.1f} s, report "
        f"{row['seconds']:.1f} s = {row['us_per_record']:.0f} us/order "
        f"({row['us_per_record'] / first['us_per_record']:.2f}x), {row['chunks']} chunks, "
        f"largest history: parent {row['largest_parent_history_sampled']} (sampled), "
        f"chunk {row['largest_chunk_history']}; load {row['load'][0]:.2f}\n"
        f"         storage floor {row['floor']['seconds']:.1f} s = "
        f"{row['floor_us_per_record']:.0f} us/order (plan {row['floor']['plan_seconds']:.1f} s "
        f"in {row['floor']['plan_queries']} requests, pages {row['floor']['page_seconds']:.1f} s "
        f"in {row['floor']['page_queries']}; table {row['table_rows']} rows; "
        f"{row['floor_workers']} chunks at once); "
        f"above the floor {row['overhead_us_per_record']:.0f} us/order (median of rounds: "
        + ", ".join(f"{v:.0f}" for v in row.get("rounds_overhead_us_per_record", []))
        + ")"
    )


if __name__ == "__main__":
    sys.exit(main())
