"""The express benchmark's figures: exact times from devhost's histories, printed and saved."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.report import devhost_revision

EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
TASK_SCHEDULED = 4


@dataclass(frozen=True)
class Sent:
    """One order message: its order id, queue, and the wall-clock time just before the send."""

    order_id: str
    queue: str
    at: float


@dataclass(frozen=True)
class Timing:
    """One instance as its history tells it: started, completed (epoch seconds), its outcome."""

    started: float
    completed: float | None
    status: str | None
    activities: int


@dataclass(frozen=True)
class Latency:
    """One order: send to completion, split into send to start and start to completion."""

    order_id: str
    latency_s: float
    start_s: float
    run_s: float


@dataclass(frozen=True)
class Round:
    """One backlog round: when the app was up again, the normal orders, the express order."""

    ready: float
    normal: list[Sent]
    express: Sent


@dataclass
class Runs:
    idle: list[Sent]
    rounds: list[Round]
    isolated: Round | None = None


@dataclass
class RoundFigures:
    """One round, every time counted from the moment the app was up with the backlog queued."""

    express: Latency
    last_normal: Latency  # the normal order sent last: what express saves over normal
    normal_completed_first: int
    normal_started_first: int
    normal_median_s: float
    started_all_s: float  # the triggers admit the whole backlog long before it is done
    drain_s: float
    enqueue_s: float


@dataclass
class Result:
    normal: int
    activities_per_order: int
    idle: list[Latency]
    idle_median: Latency
    rounds: list[RoundFigures]
    loaded_median_s: float
    ratio: float
    isolated: RoundFigures | None


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def read_timings(db: Path) -> dict[str, Timing]:
    """Every instance's ExecutionStarted and ExecutionCompleted time from devhost's store."""
    found: dict[str, dict[str, Any]] = {}
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for instance_id, text in conn.execute("SELECT instance_id, event FROM history"):
            event = json.loads(text)
            row = found.setdefault(instance_id, {"activities": 0})
            kind = event["EventType"]
            if kind == EXECUTION_STARTED:
                row["started"] = _epoch(event["Timestamp"])
            elif kind == EXECUTION_COMPLETED:
                row["completed"] = _epoch(event["Timestamp"])
            elif kind == TASK_SCHEDULED:
                row["activities"] += 1
        outputs = dict(conn.execute("SELECT instance_id, output FROM instances"))
    timings = {}
    for instance_id, row in found.items():
        output = json.loads(outputs.get(instance_id) or "null")
        status = output.get("status") if isinstance(output, dict) else None
        timings[instance_id] = Timing(
            row["started"], row.get("completed"), status, row["activities"]
        )
    return timings


def _latency(order_id: str, since: float, timing: Timing) -> Latency:
    if timing.completed is None or timing.status != "Completed":
        raise RuntimeError(f"order {order_id} did not complete: {timing}")
    return Latency(
        order_id,
        timing.completed - since,
        timing.started - since,
        timing.completed - timing.started,
    )


def _median(rows: list[Latency]) -> Latency:
    return Latency(
        "median",
        statistics.median(r.latency_s for r in rows),
        statistics.median(r.start_s for r in rows),
        statistics.median(r.run_s for r in rows),
    )


def _round(backlog: Round, timings: dict[str, Timing]) -> RoundFigures:
    def latency(sent: Sent) -> Latency:
        # From when the app was up with the order queued, or from the send if that came later.
        since = max(backlog.ready, sent.at)
        return _latency(sent.order_id, since, timings[f"order-{sent.order_id}"])

    express = latency(backlog.express)
    normal = [latency(s) for s in backlog.normal]
    return RoundFigures(
        express=express,
        last_normal=normal[-1],
        normal_completed_first=sum(1 for n in normal if n.latency_s <= express.latency_s),
        normal_started_first=sum(1 for n in normal if n.start_s <= express.start_s),
        normal_median_s=statistics.median(n.latency_s for n in normal),
        started_all_s=max(n.start_s for n in normal),
        drain_s=max(n.latency_s for n in normal),
        enqueue_s=backlog.express.at - backlog.normal[0].at,
    )


def summarize(runs: Runs, timings: dict[str, Timing]) -> Result:
    """The figures of one run; fails if any order did not complete."""
    idle = [_latency(s.order_id, s.at, timings[f"order-{s.order_id}"]) for s in runs.idle]
    rounds = [_round(r, timings) for r in runs.rounds]
    idle_median = _median(idle)
    loaded = statistics.median(r.express.latency_s for r in rounds)
    first_express = timings[f"order-{runs.rounds[0].express.order_id}"]
    return Result(
        normal=len(runs.rounds[0].normal),
        activities_per_order=first_express.activities,
        idle=idle,
        idle_median=idle_median,
        rounds=rounds,
        loaded_median_s=loaded,
        ratio=loaded / idle_median.latency_s,
        isolated=None if runs.isolated is None else _round(runs.isolated, timings),
    )


def render(result: Result, settings: dict[str, Any]) -> str:
    """The figures as a small table and a few lines."""
    n = result.normal
    rows = [(f"express, idle (median of {len(result.idle)})", result.idle_median)]
    rounds = [(f"round {k}", r) for k, r in enumerate(result.rounds)]
    if result.isolated is not None:
        rounds.append(("second hub", result.isolated))
    for name, r in rounds:
        rows.append((f"{name}: express after {n} normal", r.express))
        rows.append((f"{name}: normal order sent last", r.last_normal))
    lines = [
        f"Express orders under load: {n} normal orders, {result.activities_per_order} "
        f"activities per order, io scale {settings['io_scale']}, "
        f"fsync {'off' if settings['no_fsync'] else 'on'}",
        "",
        f"{'':40} {'latency s':>10} {'start s':>9} {'run s':>9}",
    ]
    for label, row in rows:
        lines.append(f"{label:40} {row.latency_s:10.2f} {row.start_s:9.2f} {row.run_s:9.2f}")
    lines += [
        "",
        "Idle: from the send. Backlog rounds: from the moment the app was up with the backlog",
        "queued (second hub: the express order from its send, just after that moment).",
        f"idle runs: {', '.join(f'{r.latency_s:.2f}' for r in result.idle)} s",
        f"ratio, express after the backlog (median of {len(result.rounds)}) / idle: "
        f"{result.loaded_median_s:.2f} / {result.idle_median.latency_s:.2f} = {result.ratio:.1f}",
    ]
    if result.isolated is not None:
        lines.append(
            f"ratio, express served by a second task hub / idle: "
            f"{result.isolated.express.latency_s / result.idle_median.latency_s:.1f}"
        )
    for name, r in rounds:
        lines.append(
            f"{name}: normal orders completed when the express one completed: "
            f"{r.normal_completed_first} of {n} (started before it started: "
            f"{r.normal_started_first}); all {n} started after {r.started_all_s:.1f} s, "
            f"completed after {r.drain_s:.1f} s (median {r.normal_median_s:.1f} s); "
            f"enqueueing took {r.enqueue_s:.1f} s"
        )
    return "\n".join(lines)


def write_json(
    directory: Path, result: Result, settings: dict[str, Any], load: tuple[float, ...]
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
        "result": asdict(result),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
