"""The nightly report's rules: which day, how a day is cut into chunks, what is summed, the files.

Pure and deterministic, so the orchestrators can merge partial results during replay and the
same orders always give byte-identical `reports/<day>.json` and `reports/<day>.csv`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from domain.orders import OrderStatus

INSTANCE_PREFIX = "nightly-report-"
REPORT_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
SCHEMA_VERSION = 1
CSV_COLUMNS = ("day", "currency", "status", "orders", "total_cents", "units", "express_orders")
ALL_STATUSES = "ALL"
# Status order in the files: the workflow's own order, then anything unknown by name.
_STATUS_ORDER = {str(status): rank for rank, status in enumerate(OrderStatus)}


class InvalidReportDay(ValueError):
    """Not a calendar day written yyyy-MM-dd."""


def parse_report_day(text: Any) -> str:
    """A report day as yyyy-MM-dd (a real calendar day); InvalidReportDay otherwise."""
    if not isinstance(text, str) or not REPORT_DAY.fullmatch(text):
        raise InvalidReportDay("day: a UTC calendar day written yyyy-MM-dd")
    try:
        date.fromisoformat(text)
    except ValueError as error:  # the value is never echoed: it may be anything a caller sent
        raise InvalidReportDay("day: not a calendar day (yyyy-MM-dd)") from error
    return text


def report_day_for(moment: datetime) -> str:
    """The day a run at `moment` (UTC) reports on: the UTC day before it."""
    return (moment.date() - timedelta(days=1)).isoformat()


def instance_id_for(day: str) -> str:
    """One instance per report day, whoever starts it (timer, job API, a rerun)."""
    return INSTANCE_PREFIX + parse_report_day(day)


def chunk_instance_id(parent: str, index: int) -> str:
    """The deterministic id of chunk `index` (0-based, across continue-as-new) of a run."""
    return f"{parent}:chunk-{index:05d}"


@dataclass(frozen=True)
class ChunkingPolicy:
    """How a day is cut: orders per activity page, pages per chunk, chunks per wave.

    A chunk is one sub-orchestration; a wave is the set of chunks one execution of the
    parent runs before it continues as new. Together they bound every history (see
    `history_limits`), however many orders the day has.
    """

    page_size: int = 500
    pages_per_chunk: int = 4
    chunks_per_wave: int = 10

    def __post_init__(self) -> None:
        for name, low, high in (
            ("page_size", 1, 1000),  # one Table query page holds at most 1,000 entities
            ("pages_per_chunk", 1, 50),
            ("chunks_per_wave", 1, 50),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}")

    @property
    def chunk_size(self) -> int:
        return self.page_size * self.pages_per_chunk

    @property
    def wave_size(self) -> int:
        """Orders one planning call lists: a full wave of full chunks."""
        return self.chunk_size * self.chunks_per_wave

    def to_dict(self) -> dict[str, int]:
        return {
            "page_size": self.page_size,
            "pages_per_chunk": self.pages_per_chunk,
            "chunks_per_wave": self.chunks_per_wave,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkingPolicy:
        return cls(
            int(data["page_size"]), int(data["pages_per_chunk"]), int(data["chunks_per_wave"])
        )


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


@dataclass(frozen=True)
class ChunkSpec:
    """Orders with `after` < order id <= `bounds[-1]`, read as pages ending at each bound."""

    index: int
    after: str | None
    bounds: tuple[str, ...]

    def pages(self) -> list[tuple[str | None, str]]:
        """(after, through) of each page, in key order."""
        starts = (self.after, *self.bounds[:-1])
        return list(zip(starts, self.bounds, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "after": self.after, "bounds": list(self.bounds)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkSpec:
        bounds = tuple(str(b) for b in data["bounds"])
        if not bounds:
            raise ValueError("a chunk has at least one page")
        return cls(int(data["index"]), data.get("after"), bounds)


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
        chunks.append(ChunkSpec(first_index + len(chunks), after, bounds))
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
    """Sums for one (currency, status) pair."""

    orders: int = 0
    total_cents: int = 0
    units: int = 0
    express_orders: int = 0

    def add(self, other: Cell) -> None:
        self.orders += other.orders
        self.total_cents += other.total_cents
        self.units += other.units
        self.express_orders += other.express_orders

    def to_list(self) -> list[int]:
        return [self.orders, self.total_cents, self.units, self.express_orders]


@dataclass
class ReportTotals:
    """Sums per (currency, status); every other figure in the report is derived from them.

    Amounts in different currencies are never added together. Merging is associative and
    commutative, so chunks can be summed in any grouping and give the same report.
    """

    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def add_order(self, facts: OrderFacts) -> None:
        cell = self.cells.setdefault((facts.currency, facts.status), Cell())
        cell.add(Cell(1, facts.total_cents, facts.units, 1 if facts.express else 0))

    def merge(self, other: ReportTotals) -> ReportTotals:
        merged = ReportTotals({key: Cell(*cell.to_list()) for key, cell in self.cells.items()})
        for key, cell in other.cells.items():
            merged.cells.setdefault(key, Cell()).add(cell)
        return merged

    @property
    def orders(self) -> int:
        return sum(cell.orders for cell in self.cells.values())

    def ordered_keys(self) -> list[tuple[str, str]]:
        return sorted(self.cells, key=lambda k: (k[0], _STATUS_ORDER.get(k[1], 99), k[1]))

    def by_currency(self) -> dict[str, Cell]:
        totals: dict[str, Cell] = {}
        for (currency, _), cell in sorted(self.cells.items()):
            totals.setdefault(currency, Cell()).add(cell)
        return totals

    def by_status(self) -> dict[str, int]:
        counts = {str(status): 0 for status in OrderStatus}
        for (_, status), cell in self.cells.items():
            counts[status] = counts.get(status, 0) + cell.orders
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (activity results, orchestration input): [currency, status, *sums]."""
        return {"cells": [[c, s, *self.cells[(c, s)].to_list()] for c, s in self.ordered_keys()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReportTotals:
        totals = cls()
        for currency, status, *sums in data.get("cells", []):
            totals.cells.setdefault((str(currency), str(status)), Cell()).add(
                Cell(*(int(x) for x in sums))
            )
        return totals


def report_document(day: str, totals: ReportTotals, chunks: int) -> dict[str, Any]:
    """The JSON report. No generation time: the same orders give the same bytes."""
    currencies = totals.by_currency()
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
                "completed_cents": totals.cells.get((currency, completed), Cell()).total_cents,
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
    for currency, status in totals.ordered_keys():
        writer.writerow([day, currency, status, *totals.cells[(currency, status)].to_list()])
    for currency, cell in totals.by_currency().items():
        writer.writerow([day, currency, ALL_STATUSES, *cell.to_list()])
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class ReportRun:
    """The parent orchestration's input, carried across continue-as-new.

    `after` is the last order id already handed to a chunk (None at the start); `totals`
    sums every finished chunk; `next_chunk` numbers the chunks across executions.
    """

    day: str
    policy: ChunkingPolicy = ChunkingPolicy()
    after: str | None = None
    totals: ReportTotals = field(default_factory=ReportTotals)
    next_chunk: int = 0
    started_at: str | None = None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "policy": self.policy.to_dict(),
            "after": self.after,
            "totals": self.totals.to_dict(),
            "next_chunk": self.next_chunk,
            "started_at": self.started_at,
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReportRun:
        if not isinstance(data, dict):
            raise ValueError("the report input must be a JSON object")
        return cls(
            day=parse_report_day(data.get("day")),
            policy=ChunkingPolicy.from_dict(data["policy"])
            if data.get("policy")
            else ChunkingPolicy(),
            after=data.get("after"),
            totals=ReportTotals.from_dict(data.get("totals") or {}),
            next_chunk=int(data.get("next_chunk", 0)),
            started_at=data.get("started_at"),
            correlation_id=data.get("correlation_id"),
        )
