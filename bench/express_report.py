"""The express benchmark's figures: times from the task hubs' histories, medians, ratios, JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.report import devhost_revision

# The targets of issue 20: an express order behind either backlog at most this many times its
# idle median, and the normal orders' throughput beside the express app at least this share of
# the main app's alone.
LATENCY_TARGET = 3.0
THROUGHPUT_TARGET = 0.8


@dataclass(frozen=True)
class Span:
    """One order as its task hub recorded it (epoch seconds): its message's enqueued time (the
    `received_at` the trigger put in the workflow input), ExecutionStarted, ExecutionCompleted."""

    enqueued: float
    started: float
    completed: float

    @property
    def latency_s(self) -> float:
        return self.completed - self.enqueued

    @property
    def start_s(self) -> float:
        """Queue wait, trigger and start_new: the message enqueued to ExecutionStarted."""
        return self.started - self.enqueued

    @property
    def run_s(self) -> float:
        """The orchestration: ExecutionStarted to ExecutionCompleted."""
        return self.completed - self.started


@dataclass(frozen=True)
class Latency:
    """An order's latency split into start and run (seconds)."""

    latency_s: float
    start_s: float
    run_s: float

    @classmethod
    def of(cls, span: Span) -> Latency:
        return cls(span.latency_s, span.start_s, span.run_s)


@dataclass(frozen=True)
class Drain:
    """A backlog's normal orders: how many, the first ExecutionStarted, the last completion."""

    orders: int
    first_started: float
    last_completed: float

    @property
    def seconds(self) -> float:
        return self.last_completed - self.first_started

    @property
    def per_second(self) -> float:
        return self.orders / self.seconds


@dataclass(frozen=True)
class BacklogRound:
    """One round behind a backlog: the normal orders' drain and, beside the express app, the
    idle express orders sent before the backlog, the express order sent behind it (None when
    the main app ran alone) and what the main app had done when it was sent and completed."""

    backlog: int
    round: int
    express_app: bool
    drain: Drain
    idle: tuple[Latency, ...] = ()
    express: Latency | None = None
    normal_started_at_send: int | None = None
    normal_completed_at_express_done: int | None = None
    load_before: float | None = None
    enqueue_s: float | None = None


@dataclass(frozen=True)
class Row:
    """A line of the table: the express order's medians and the normal orders' throughput."""

    label: str
    samples: int
    latency: Latency
    ratio: float
    normal_per_s_beside: float | None = None
    normal_per_s_alone: float | None = None

    @property
    def throughput_ratio(self) -> float | None:
        if self.normal_per_s_beside is None or not self.normal_per_s_alone:
            return None
        return self.normal_per_s_beside / self.normal_per_s_alone


@dataclass(frozen=True)
class Result:
    idle: list[Latency]  # each round's idle median
    rounds: list[BacklogRound]
    rows: list[Row]

    @property
    def latency_met(self) -> bool:
        behind = self.rows[1:]
        return bool(behind) and all(row.ratio <= LATENCY_TARGET for row in behind)

    @property
    def throughput_met(self) -> bool:
        ratios = [row.throughput_ratio for row in self.rows[1:]]
        return bool(ratios) and all(r is not None and r >= THROUGHPUT_TARGET for r in ratios)


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def span_of(status: dict[str, Any]) -> Span:
    """The span of a completed order from its status with `showHistory=true` (the durable HTTP
    API's names: EventType as text, Timestamp in ISO 8601)."""
    if status.get("runtimeStatus") != "Completed":
        raise ValueError(f"{status.get('instanceId')} is {status.get('runtimeStatus')}")
    stamps = {e["EventType"]: _epoch(e["Timestamp"]) for e in status["historyEvents"]}
    data = status["input"]
    workflow_input = json.loads(data) if isinstance(data, str) else data
    return Span(
        enqueued=_epoch(workflow_input["received_at"]),
        started=stamps["ExecutionStarted"],
        completed=stamps["ExecutionCompleted"],
    )


def drain_of(spans: Iterable[Span], orders: int) -> Drain:
    """First start to last completion over the spans given (those that can be either)."""
    spans = list(spans)
    return Drain(
        orders=orders,
        first_started=min(s.started for s in spans),
        last_completed=max(s.completed for s in spans),
    )


def edge_instances(listed: Sequence[dict[str, Any]], slack_s: float = 2.0) -> list[str]:
    """The instances that may hold the first ExecutionStarted or the last completion.

    The instance list gives createdTime and lastUpdatedTime to the second only; the exact
    times come from the histories of these few."""
    created = [_epoch(i["createdTime"]) for i in listed]
    updated = [_epoch(i["lastUpdatedTime"]) for i in listed]
    first, last = min(created), max(updated)
    return [
        i["instanceId"]
        for i, c, u in zip(listed, created, updated, strict=True)
        if c <= first + slack_s or u >= last - slack_s
    ]


def median_latency(rows: Sequence[Latency]) -> Latency:
    """Each part's own median (so start + run need not add up to the latency's)."""
    return Latency(
        statistics.median(r.latency_s for r in rows),
        statistics.median(r.start_s for r in rows),
        statistics.median(r.run_s for r in rows),
    )


def summarize(rounds: list[BacklogRound]) -> Result:
    """The idle row (the median of the rounds' idle medians) and, per backlog, the medians
    over its rounds and the ratios."""
    idle = [median_latency(r.idle) for r in rounds if r.idle]
    idle_median = median_latency(idle)
    rows = [Row(f"idle ({len(idle)} rounds)", len(idle), idle_median, 1.0)]
    for backlog in sorted({r.backlog for r in rounds}):
        beside = [r for r in rounds if r.backlog == backlog and r.express is not None]
        alone = [r for r in rounds if r.backlog == backlog and not r.express_app]
        if not beside:  # a run stopped early
            continue
        express = median_latency([r.express for r in beside if r.express is not None])
        rows.append(
            Row(
                f"behind {backlog} ({len(beside)} rounds)",
                len(beside),
                express,
                express.latency_s / idle_median.latency_s,
                statistics.median(r.drain.per_second for r in beside),
                statistics.median(r.drain.per_second for r in alone) if alone else None,
            )
        )
    return Result(idle, rounds, rows)


def _cell(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.2f}"


def render(result: Result, settings: dict[str, Any]) -> str:
    """The table, the rounds one per line, and whether the targets are met."""
    head = (
        f"{'express order':24} {'latency s':>9} {'start s':>8} {'run s':>7} {'x idle':>7} "
        f"{'normal/s beside':>15} {'alone':>6} {'ratio':>6}"
    )
    lines = [
        f"Express orders in their own task hub: backlogs {settings['backlogs']}, "
        f"{settings['rounds']} rounds each, fsync {'off' if settings['no_fsync'] else 'on'}",
        "",
        head,
    ]
    for row in result.rows:
        lines.append(
            f"{row.label:24} {row.latency.latency_s:9.2f} {row.latency.start_s:8.2f} "
            f"{row.latency.run_s:7.2f} {row.ratio:7.1f} "
            f"{_cell(row.normal_per_s_beside, 15)} {_cell(row.normal_per_s_alone, 6)} "
            f"{_cell(row.throughput_ratio, 6)}"
        )
    lines += [
        "",
        "Medians. start: the message enqueued to ExecutionStarted; run: ExecutionStarted to",
        "ExecutionCompleted (express hub history). normal/s: the backlog's normal orders, first",
        "start to last completion, beside the express app and with the main app alone.",
        f"idle, each round's median: {', '.join(f'{r.latency_s:.2f}' for r in result.idle)} s",
    ]
    for r in result.rounds:
        where = "beside express" if r.express_app else "main alone    "
        line = (
            f"{r.backlog:5} round {r.round} {where}: {r.drain.orders} normal in "
            f"{r.drain.seconds:6.1f} s = {r.drain.per_second:5.2f}/s"
        )
        if r.express is not None:
            idle = median_latency(r.idle).latency_s if r.idle else float("nan")
            line += (
                f"; express {r.express.latency_s:.2f} s (start {r.express.start_s:.2f}, run "
                f"{r.express.run_s:.2f}; idle {idle:.2f} this round), sent when "
                f"{r.normal_started_at_send} normal had started, done when "
                f"{r.normal_completed_at_express_done} had completed"
            )
        if r.load_before is not None:
            line += f"; load before {r.load_before:.2f}"
        if r.enqueue_s is not None:
            line += f"; enqueued in {r.enqueue_s:.0f} s"
        lines.append(line)
    lines += [
        "",
        f"target: express behind each backlog <= {LATENCY_TARGET:g} x idle: "
        f"{'met' if result.latency_met else 'NOT met'}; normal throughput beside the express "
        f"app >= {THROUGHPUT_TARGET:g} x alone: {'met' if result.throughput_met else 'NOT met'}",
    ]
    return "\n".join(lines)


def write_json(
    directory: Path,
    result: Result,
    settings: dict[str, Any],
    load: tuple[float, ...],
    wall_s: float,
    error: str | None = None,
) -> Path:
    """Write the figures and the machine they came from under `directory`."""
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"express-{now:%Y%m%dT%H%M%SZ}.json"
    payload = {
        "date": now.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": list(load),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "azure-functions-durable": version("azure-functions-durable"),
        },
        "devhost_revision": devhost_revision(),
        "settings": settings,
        "wall_s": wall_s,
        "stopped_early": error,
        "rows": [asdict(row) | {"throughput_ratio": row.throughput_ratio} for row in result.rows],
        "idle": [asdict(r) for r in result.idle],
        "rounds": [asdict(r) for r in result.rounds],
        "targets": {
            "latency_ratio_max": LATENCY_TARGET,
            "throughput_ratio_min": THROUGHPUT_TARGET,
            "latency_met": result.latency_met,
            "throughput_met": result.throughput_met,
        },
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
