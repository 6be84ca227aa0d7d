"""The nightly report's rules: the day, how a day is cut into chunks, what is summed, the files."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from domain.orders import OrderStatus
from domain.payload import WHOLE, Model, NullsWritten, Timestamp, WholeNumber

INSTANCE_PREFIX = "nightly-report-"
SCHEMA_VERSION = 1
CSV_COLUMNS = ("day", "currency", "status", "orders", "total_cents", "units", "express_orders")
ALL_STATUSES = "ALL"
# Status order in the files: the workflow's own order, then anything unknown by name.
_STATUS_ORDER = {str(status): rank for rank, status in enumerate(OrderStatus)}


def _calendar_day(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:  # the value is never echoed: it may be anything a caller sent
        raise ValueError("not a calendar day (yyyy-MM-dd)") from None
    return text


def report_day_for(moment: datetime) -> str:
    """The day a run at `moment` (UTC) reports on: the UTC day before it."""
    return (moment.date() - timedelta(days=1)).isoformat()


# A UTC calendar day in a payload (a report's, a retention cutoff's), as report blobs name it.
ReportDay = Annotated[
    str,
    Field(
        # Year 0001 or later, as Python's dates (and JSON Schema's "date" format) take them.
        pattern=r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$",
        json_schema_extra={"format": "date"},
        description="A UTC calendar day, yyyy-MM-dd, year 0001 or later.",
    ),
    AfterValidator(_calendar_day),
]
# An order id as the report's cursor and page bounds hold it (RowKeys in the orders table).
OrderKey = Annotated[str, Field(min_length=1)]


def instance_id_for(day: str) -> str:
    """One instance per report day, whoever starts it (timer, job API, a rerun)."""
    return INSTANCE_PREFIX + day


def chunk_instance_id(parent: str, index: int) -> str:
    """The deterministic id of chunk `index` (0-based, across continue-as-new) of a run."""
    return f"{parent}:chunk-{index:05d}"


class ChunkingPolicy(Model):
    """How a day is cut: orders per activity page, pages per chunk, chunks per wave.

    A chunk is one sub-orchestration; a wave is the set of chunks one execution of the
    parent runs before it continues as new. Together they bound every history (see
    `history_limits`), however many orders the day has.
    """

    page_size: Annotated[
        int,
        Field(ge=1, le=1000, description="Orders per activity; a Table query page holds 1,000."),
        WHOLE,
    ] = 500
    pages_per_chunk: Annotated[int, Field(ge=1, le=50), WHOLE] = 4
    chunks_per_wave: Annotated[int, Field(ge=1, le=50), WHOLE] = 10

    @property
    def chunk_size(self) -> int:
        return self.page_size * self.pages_per_chunk

    @property
    def wave_size(self) -> int:
        """Orders one planning call lists: a full wave of full chunks."""
        return self.chunk_size * self.chunks_per_wave


@dataclass(frozen=True)
class HistoryLimits:
    """The most history events one execution may hold, for the parent and for a chunk."""

    parent: int
    chunk: int


def history_limits(policy: ChunkingPolicy) -> HistoryLimits:
    """Upper bounds that hold whatever the number of orders.

    An execution with T tasks (activities and sub-orchestrations) holds ExecutionStarted and
    ExecutionCompleted (or ContinuedAsNew), two events per task (scheduled, completed) and at
    most T + 1 episodes of OrchestratorStarted + OrchestratorCompleted: 4T + 4 events. A chunk's
    tasks are its pages; the parent's are one planning call, one wave of chunks and the write.
    """
    return HistoryLimits(
        parent=4 * (policy.chunks_per_wave + 2) + 4,
        chunk=4 * policy.pages_per_chunk + 4,
    )


class ChunkSpec(NullsWritten):
    """Orders with `after` < order id <= `bounds[-1]`, read as pages ending at each bound."""

    index: Annotated[int, Field(ge=0, description="Numbered across continue-as-new."), WHOLE]
    after: OrderKey | None = None
    bounds: Annotated[
        tuple[OrderKey, ...],
        Field(min_length=1, description="The last order id of each page, in key order."),
    ]

    def pages(self) -> list[tuple[str | None, str]]:
        """(after, through) of each page, in key order."""
        starts = (self.after, *self.bounds[:-1])
        return list(zip(starts, self.bounds, strict=True))


def plan_chunks(
    keys: list[str], after: str | None, first_index: int, policy: ChunkingPolicy
) -> list[ChunkSpec]:
    """Cut consecutive order ids (sorted, all > `after`) into chunks of pages.

    Only the page bounds travel, never the ids themselves: a chunk spec is at most
    `pages_per_chunk` keys long whatever the page size.
    """
    if any(a >= b for a, b in pairwise(keys)):
        raise ValueError("order ids must be sorted and distinct")
    if after is not None and keys and keys[0] <= after:
        raise ValueError("order ids must come after the cursor")
    chunks: list[ChunkSpec] = []
    for start in range(0, len(keys), policy.chunk_size):
        chunk = keys[start : start + policy.chunk_size]
        bounds = tuple(
            chunk[min(end, len(chunk)) - 1]
            for end in range(policy.page_size, len(chunk) + policy.page_size, policy.page_size)
        )
        chunks.append(ChunkSpec(index=first_index + len(chunks), after=after, bounds=bounds))
        after = chunk[-1]
    return chunks


@dataclass(frozen=True)
class OrderFacts:
    """What the report needs from one stored order: no lines, no customer reference."""

    order_id: str
    status: str
    currency: str
    total_cents: int
    units: int
    express: bool


@dataclass
class Cell:
    """Sums for one (currency, status) pair, while they are being added up."""

    orders: int = 0
    total_cents: int = 0
    units: int = 0
    express_orders: int = 0

    def add(self, orders: int, total_cents: int, units: int, express_orders: int) -> None:
        self.orders += orders
        self.total_cents += total_cents
        self.units += units
        self.express_orders += express_orders

    def sums(self) -> tuple[int, int, int, int]:
        return self.orders, self.total_cents, self.units, self.express_orders


# [currency, status, orders, total_cents, units, express_orders]
TotalsRow = tuple[str, str, WholeNumber, WholeNumber, WholeNumber, WholeNumber]


def _report_order(row: TotalsRow) -> tuple[str, int, str]:
    return row[0], _STATUS_ORDER.get(row[1], 99), row[1]


class ReportTotals(NullsWritten):
    """Sums per (currency, status); every other figure in the report is derived from them.

    Amounts in different currencies are never added together. Merging is associative and
    commutative, so chunks can be summed in any grouping and give the same report.
    """

    cells: tuple[TotalsRow, ...] = Field(
        (),
        description=(
            "One [currency, status, orders, total_cents, units, express_orders] per pair, "
            "in report order."
        ),
    )

    @field_validator("cells")
    @classmethod
    def _one_row_per_pair_in_report_order(
        cls, cells: tuple[TotalsRow, ...]
    ) -> tuple[TotalsRow, ...]:
        if len({(row[0], row[1]) for row in cells}) != len(cells):
            raise ValueError("each currency and status at most once")
        return tuple(sorted(cells, key=_report_order))

    @classmethod
    def of(cls, orders: Iterable[OrderFacts]) -> ReportTotals:
        cells: dict[tuple[str, str], Cell] = {}
        for facts in orders:
            cell = cells.setdefault((facts.currency, facts.status), Cell())
            cell.add(1, facts.total_cents, facts.units, 1 if facts.express else 0)
        return cls._of_cells(cells)

    @classmethod
    def _of_cells(cls, cells: dict[tuple[str, str], Cell]) -> ReportTotals:
        return cls(cells=tuple((c, s, *cell.sums()) for (c, s), cell in cells.items()))

    def by_pair(self) -> dict[tuple[str, str], Cell]:
        return {(c, s): Cell(*sums) for c, s, *sums in self.cells}

    def merge(self, other: ReportTotals) -> ReportTotals:
        merged = self.by_pair()
        for currency, status, *sums in other.cells:
            merged.setdefault((currency, status), Cell()).add(*sums)
        return self._of_cells(merged)

    @property
    def orders(self) -> int:
        return sum(row[2] for row in self.cells)

    def by_currency(self) -> dict[str, Cell]:
        totals: dict[str, Cell] = {}
        for currency, _, *sums in sorted(self.cells):
            totals.setdefault(currency, Cell()).add(*sums)
        return totals

    def by_status(self) -> dict[str, int]:
        counts = {str(status): 0 for status in OrderStatus}
        for _, status, orders, *_ in self.cells:
            counts[status] = counts.get(status, 0) + orders
        return counts


def report_document(day: str, totals: ReportTotals, chunks: int) -> dict[str, Any]:
    """The JSON report. No generation time: the same orders give the same bytes."""
    currencies = totals.by_currency()
    pairs = totals.by_pair()
    completed = str(OrderStatus.COMPLETED)
    return {
        "schema": SCHEMA_VERSION,
        "day": day,
        "orders": totals.orders,
        "chunks": chunks,
        "by_status": totals.by_status(),
        "by_currency": {
            currency: {
                "orders": cell.orders,
                "total_cents": cell.total_cents,
                "completed_cents": pairs.get((currency, completed), Cell()).total_cents,
                "units": cell.units,
                "express_orders": cell.express_orders,
            }
            for currency, cell in currencies.items()
        },
        "express_orders": sum(cell.express_orders for cell in currencies.values()),
        "units": sum(cell.units for cell in currencies.values()),
    }


def render_json(day: str, totals: ReportTotals, chunks: int) -> bytes:
    text = json.dumps(report_document(day, totals, chunks), indent=2, sort_keys=True)
    return (text + "\n").encode()


def render_csv(day: str, totals: ReportTotals) -> bytes:
    """One row per (currency, status) with orders, then one `ALL` row per currency."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in totals.cells:
        writer.writerow([day, *row])
    for currency, cell in totals.by_currency().items():
        writer.writerow([day, currency, ALL_STATUSES, *cell.sums()])
    return buffer.getvalue().encode()


class ReportRequest(Model):
    """The body of POST /api/jobs/nightly-report: the day to report on, up to today (UTC)."""

    day: ReportDay


class ReportRun(NullsWritten):
    """The parent orchestration's input, carried across continue-as-new.

    `after` is the last order id already handed to a chunk (None at the start); `totals`
    sums every finished chunk; `next_chunk` numbers the chunks across executions.
    """

    day: ReportDay
    policy: ChunkingPolicy = ChunkingPolicy()
    after: OrderKey | None = None
    totals: ReportTotals = ReportTotals()
    next_chunk: Annotated[int, Field(ge=0), WHOLE] = 0
    started_at: Timestamp | None = Field(None, description="When the first execution started.")
    correlation_id: str | None = None

    def plan_input(self) -> PlanInput:
        return PlanInput(
            day=self.day,
            after=self.after,
            next_chunk=self.next_chunk,
            policy=self.policy,
            correlation_id=self.correlation_id,
        )

    def chunk_input(self, chunk: ChunkSpec) -> ChunkInput:
        return ChunkInput(day=self.day, chunk=chunk, correlation_id=self.correlation_id)

    def write_input(self, totals: ReportTotals, chunks: int) -> WriteInput:
        return WriteInput(
            day=self.day, totals=totals, chunks=chunks, correlation_id=self.correlation_id
        )


class PlanInput(NullsWritten):
    """plan_report_chunks: the next wave of the day's order ids after `after`."""

    day: ReportDay
    after: OrderKey | None = None
    next_chunk: Annotated[int, Field(ge=0), WHOLE] = 0
    policy: ChunkingPolicy
    correlation_id: str | None = None


class WavePlan(NullsWritten):
    """plan_report_chunks' result: page bounds only, so it stays small whatever the page size.
    `more` is True after a full wave (there may be more), False after the day's last."""

    chunks: tuple[ChunkSpec, ...]
    after: OrderKey | None = None
    more: bool


class ChunkInput(NullsWritten):
    """A nightly_report_chunk sub-orchestration's input."""

    day: ReportDay
    chunk: ChunkSpec
    correlation_id: str | None = None


class PageInput(NullsWritten):
    """sum_report_page: the day's orders with `after` < id <= `through`."""

    day: ReportDay
    after: OrderKey | None = None
    through: OrderKey
    correlation_id: str | None = None


class SummedOrders(NullsWritten):
    """What a page (sum_report_page) or a chunk (nightly_report_chunk) sums to."""

    totals: ReportTotals
    orders: Annotated[int, Field(ge=0), WHOLE]


class WriteInput(NullsWritten):
    """write_report: the files of `day` from its totals."""

    day: ReportDay
    totals: ReportTotals
    chunks: Annotated[int, Field(ge=0), WHOLE]
    correlation_id: str | None = None


class WrittenReport(NullsWritten):
    """write_report's result: the blobs written."""

    blobs: tuple[str, ...]
    orders: Annotated[int, Field(ge=0), WHOLE]


class ReportResult(NullsWritten):
    """The report's output, which the job API shows as the job's result."""

    day: ReportDay
    orders: Annotated[int, Field(ge=0), WHOLE]
    chunks: Annotated[int, Field(ge=0), WHOLE]
    blobs: tuple[str, ...] = Field(description="reports/<day>.json and reports/<day>.csv.")
