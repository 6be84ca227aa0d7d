"""The storage floor of the nightly report: its Table queries alone, timed through the same SDK.

The report's cost has a part no orchestration can avoid: the Table queries themselves. This
module replays exactly the queries `plan_report_chunks` and `sum_report_page` make for a day
(the same filters, selected columns and page sizes, through the same `TableClient`), reading
every row and converting nothing, so bench/nightly.py can print the floor per order and its
own overhead above it. On Azurite the floor is not linear: Azurite evaluates every query
against every row of the table and sorts all matches before cutting a page.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from azure.data.tables import TableClient
from pydantic import computed_field

from adapters.order_store import _FACT_COLUMNS, _day_query
from domain.payload import Model
from domain.reports import ChunkingPolicy, ChunkSpec, plan_chunks


class Floor(Model):
    """Seconds spent in the report's queries for one day, by phase, and what they returned."""

    plan_seconds: float
    plan_queries: int
    page_seconds: float
    page_queries: int
    rows: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def seconds(self) -> float:
        return self.plan_seconds + self.page_seconds


def _ids(table: TableClient, day: str, after: str | None, limit: int) -> tuple[list[str], int]:
    """OrderStore.order_ids_of_day's query; also how many service pages it took."""
    query, parameters = _day_query(day, after, None)
    pages = table.query_entities(
        query,
        parameters=parameters,
        select=["RowKey"],
        results_per_page=min(limit, 1000),
    ).by_page()
    ids: list[str] = []
    requests = 0
    for page in pages:
        requests += 1
        for row in page:
            ids.append(row["RowKey"])
            if len(ids) >= limit:
                return ids, requests
    return ids, requests


def _page(table: TableClient, day: str, after: str | None, through: str) -> tuple[int, int]:
    """OrderStore.order_facts_of_day's query, rows read but not converted."""
    query, parameters = _day_query(day, after, through)
    pages = table.query_entities(
        query,
        parameters=parameters,
        select=_FACT_COLUMNS,
        results_per_page=1000,
    ).by_page()
    rows = requests = 0
    for page in pages:
        requests += 1
        rows += sum(1 for _ in page)
    return rows, requests


def _chunk_pages(table: TableClient, day: str, chunk: ChunkSpec) -> tuple[int, int]:
    """One chunk's pages in key order, one after another, as its sub-orchestration reads them."""
    rows = requests = 0
    for page_after, through in chunk.pages():
        count, made = _page(table, day, page_after, through)
        rows += count
        requests += made
    return rows, requests


def measure_floor(table: TableClient, day: str, policy: ChunkingPolicy, workers: int = 1) -> Floor:
    """Run the report's queries for `day` wave by wave and time them.

    Within a wave the report reads its chunks in parallel (one sub-orchestration each, their
    activities limited by maxConcurrentActivityFunctions), so `workers` chunks are read at once
    here too; with workers=1 everything runs one query after another.
    """
    plan_s = page_s = 0.0
    plan_q = page_q = rows = 0
    after: str | None = None
    first = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while True:
            started = time.perf_counter()
            ids, requests = _ids(table, day, after, policy.wave_size)
            plan_s += time.perf_counter() - started
            plan_q += requests
            chunks = plan_chunks(ids, after, first, policy)
            started = time.perf_counter()
            for count, made in pool.map(lambda c: _chunk_pages(table, day, c), chunks):
                rows += count
                page_q += made
            page_s += time.perf_counter() - started
            first += len(chunks)
            if len(ids) < policy.wave_size:
                return Floor(
                    plan_seconds=plan_s,
                    plan_queries=plan_q,
                    page_seconds=page_s,
                    page_queries=page_q,
                    rows=rows,
                )
            after = ids[-1]
