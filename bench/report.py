"""Turns runs and floors into the overhead figures, prints them and writes them as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.history import Episode
from bench.replay import Floor
from bench.scenarios import Run

OVERHEAD_TARGET = 0.25
BATCHING_TARGET = 0.5


@dataclass
class Row:
    """One scenario's figures.

    Two floors, both the SDK's replay time for the episodes devhost ran: `run_floor_s`, timed
    inside devhost's replay worker around each invocation during the run itself, and the
    quiet floor (`floor_s` best-of-N, `floor_first_run_s` first runs), the same episodes
    replayed again by the bench in its own process seconds later. `overhead` uses the run
    floor when there is one (replays in a worker process); see docs/benchmarks.md for why.
    """

    scenario: str
    size: int
    wall_s: float
    activity_s: float
    floor_s: float
    us_per_event: float
    episodes: int
    history_len: int
    events_replayed: int
    raise_s: float
    cpu_s: float | None
    floor_first_run_s: float
    live_replay_s: float = 0.0
    run_floor_s: float | None = None
    messages_per_episode: list[int] = field(default_factory=list)

    @property
    def reference_floor_s(self) -> float:
        """The floor the target is judged against: the run floor, else the quiet best-of-N."""
        return self.run_floor_s if self.run_floor_s else self.floor_s

    @property
    def overhead(self) -> float:
        """(wall - activity time - floor) / floor, against the reference floor."""
        return self._over(self.reference_floor_s)

    @property
    def overhead_quiet(self) -> float:
        """The same against the quiet floor (best-of-N replays in the bench's process)."""
        return self._over(self.floor_s)

    @property
    def overhead_first_run(self) -> float:
        """The same against the quiet floor of first runs (one replay of each episode)."""
        return self._over(self.floor_first_run_s)

    @property
    def pipe(self) -> float:
        """What the replays cost devhost beyond the SDK's own time in the worker (the pipes,
        the hand-offs), as a share of the reference floor; 0 when replays ran in-process."""
        if not self.run_floor_s:
            return 0.0
        return (self.live_replay_s - self.run_floor_s) / self.run_floor_s

    @property
    def replay_slowdown(self) -> float:
        """How much longer the replays took inside devhost than the quiet floor."""
        return (self.live_replay_s - self.floor_s) / self.floor_s

    @property
    def interference(self) -> float | None:
        """The run floor against the quiet floor of first runs, minus 1: how much slower the
        SDK ran during the run than in a quiet process (load, contention, process luck)."""
        if not self.run_floor_s:
            return None
        return self.run_floor_s / self.floor_first_run_s - 1

    @property
    def bookkeeping(self) -> float:
        """devhost's own time outside replays and activities, as a share of the reference
        floor; with the run floor, overhead = pipe + bookkeep exactly."""
        return (self.wall_s - self.activity_s - self.live_replay_s) / self.reference_floor_s

    def _over(self, floor: float) -> float:
        return (self.wall_s - self.activity_s - floor) / floor


@dataclass
class Batching:
    """The fan-in floor against the same fan-in replayed in fixed-size completion batches."""

    batch: int
    fan_in_floor_s: float
    batched_floor_s: float
    batched_episodes: int
    single_episode_floor_s: float
    ratio: float


def make_row(run: Run, floor: Floor, history_len: int, episodes: list[Episode]) -> Row:
    """One scenario's run set against its floors."""
    return Row(
        scenario=run.scenario,
        size=run.size,
        wall_s=run.wall_s,
        activity_s=run.activity_s,
        floor_s=floor.seconds,
        us_per_event=floor.seconds / floor.events_replayed * 1e6,
        episodes=floor.episodes,
        history_len=history_len,
        events_replayed=floor.events_replayed,
        raise_s=run.raise_s,
        cpu_s=run.cpu_s,
        floor_first_run_s=floor.first_run_s,
        live_replay_s=run.live_replay_s,
        run_floor_s=run.worker_replay_s,
        messages_per_episode=[e.messages for e in episodes],
    )


def total_row(rows: list[Row]) -> Row:
    """All scenarios together, overhead over the summed floor."""
    replayed = sum(r.events_replayed for r in rows)
    floor = sum(r.floor_s for r in rows)
    run_floors = [r.run_floor_s for r in rows]
    return Row(
        scenario="all",
        size=sum(r.size for r in rows),
        wall_s=sum(r.wall_s for r in rows),
        activity_s=sum(r.activity_s for r in rows),
        floor_s=floor,
        us_per_event=floor / replayed * 1e6,
        episodes=sum(r.episodes for r in rows),
        history_len=sum(r.history_len for r in rows),
        events_replayed=replayed,
        raise_s=sum(r.raise_s for r in rows),
        cpu_s=None if any(r.cpu_s is None for r in rows) else sum(r.cpu_s or 0 for r in rows),
        floor_first_run_s=sum(r.floor_first_run_s for r in rows),
        live_replay_s=sum(r.live_replay_s for r in rows),
        run_floor_s=None if any(f is None for f in run_floors) else sum(f or 0 for f in run_floors),
    )


def render(rows: list[Row], batching: Batching, fsync: bool, load: tuple[float, ...]) -> str:
    """The console table and verdicts."""
    run_floor = all(r.run_floor_s for r in rows)
    header = (
        f"{'scenario':<9} {'size':>5} {'wall s':>8} {'floor s':>8} {'quiet s':>8} "
        f"{'overhead':>8} {'pipe':>6} {'bookkeep':>8} {'vs quiet':>8} {'vs 1st':>7} "
        f"{'interf':>6} {'us/event':>8} {'episodes':>8} {'history':>7} {'raise s':>7} "
        f"{'cpu s':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.scenario:<9} {r.size:>5} {r.wall_s:>8.3f} {r.reference_floor_s:>8.3f} "
            f"{r.floor_s:>8.3f} {r.overhead:>8.2f} {r.pipe:>6.2f} {r.bookkeeping:>8.2f} "
            f"{r.overhead_quiet:>8.2f} {r.overhead_first_run:>7.2f} "
            f"{_ratio(r.interference):>6} {r.us_per_event:>8.2f} {r.episodes:>8} "
            f"{r.history_len:>7} {r.raise_s:>7.3f} {_seconds(r.cpu_s):>6}"
        )
    verdicts = ", ".join(f"{r.scenario} {_verdict(r.overhead <= OVERHEAD_TARGET)}" for r in rows)
    quiet = ", ".join(f"{r.scenario} {_verdict(r.overhead_quiet <= OVERHEAD_TARGET)}" for r in rows)
    first = ", ".join(
        f"{r.scenario} {_verdict(r.overhead_first_run <= OVERHEAD_TARGET)}" for r in rows
    )
    if run_floor:
        floor_line = (
            "floor = the SDK's replay time for these episodes, timed in devhost's replay worker "
            "during the run; quiet = the same episodes replayed by the bench seconds later, "
            "best of --repeat"
        )
        split_line = (
            "  = pipe (devhost's replay time - floor) / floor"
            " + bookkeep (wall - activity - devhost's replay time) / floor"
        )
    else:
        floor_line = "floor = quiet: replays ran in devhost's process, so there is no run floor"
        split_line = "  bookkeep = (wall - activity - devhost's replay time) / floor"
    lines += [
        "",
        floor_line,
        f"overhead = (wall - activity - floor) / floor, target <= {OVERHEAD_TARGET}: {verdicts}",
        split_line,
        f"vs quiet = the same against the quiet floor: {quiet}",
        f"vs 1st = against the quiet floor of first runs (one replay each): {first}",
        "interf = floor / quiet floor of first runs - 1 (the SDK slower during the run)",
        f"fan-in floor / batches-of-{batching.batch} floor = {batching.fan_in_floor_s:.3f} s / "
        f"{batching.batched_floor_s:.3f} s ({batching.batched_episodes} episodes) = "
        f"{batching.ratio:.2f}  target <= {BATCHING_TARGET}  "
        + _verdict(batching.ratio <= BATCHING_TARGET),
        f"(all completions in one episode: {batching.single_episode_floor_s:.3f} s; both quiet)",
        f"writes fsynced: {'yes' if fsync else 'no'}",
        f"load average before the run: {load[0]:.2f} on {os.cpu_count()} CPUs"
        + ("  (busy machine: figures are noisy)" if load[0] > 0.5 else ""),
    ]
    return "\n".join(lines)


def render_rounds(rounds: list[list[Row]]) -> str:
    """Each round's overhead per scenario, and the median, min and max across rounds."""
    scenarios = [r.scenario for r in rounds[0]]
    header = f"{'round':<7}" + "".join(f"{name:>10}" for name in scenarios) + f"{'vs quiet':>10}"
    lines = ["overhead per round (each scenario's quiet floor measured right after it)", header]
    for number, rows in enumerate(rounds, 1):
        lines.append(
            f"{number:<7}"
            + "".join(f"{r.overhead:>10.2f}" for r in rows)
            + f"{rows[-1].overhead_quiet:>10.2f}"
        )
    for label, pick in (("median", statistics.median), ("min", min), ("max", max)):
        values = [pick([rows[i].overhead for rows in rounds]) for i in range(len(scenarios))]
        quiet = pick([rows[-1].overhead_quiet for rows in rounds])
        lines.append(f"{label:<7}" + "".join(f"{v:>10.2f}" for v in values) + f"{quiet:>10.2f}")
    lines.append("the table below is the round with the median overall overhead")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    """Seconds with two decimals, or a dash when unknown."""
    return "-" if value is None else f"{value:.2f}"


def _ratio(value: float | None) -> str:
    """A ratio with two decimals, or a dash when there is none."""
    return "-" if value is None else f"{value:.2f}"


def _verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def devhost_revision() -> str | None:
    """The commit the run measured, with "+dirty" when devhost/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--", "devhost")
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def write_json(
    directory: Path,
    rows: list[Row],
    batching: Batching,
    fsync: bool,
    settings: dict[str, Any],
    load: tuple[float, ...],
    rounds: list[list[Row]] | None = None,
) -> Path:
    """Write the figures and the machine they came from under `directory`."""
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"replay-{now:%Y%m%dT%H%M%SZ}.json"
    payload = {
        "date": now.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": list(load),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "azure-functions": version("azure-functions"),
            "azure-functions-durable": version("azure-functions-durable"),
        },
        "devhost_revision": devhost_revision(),
        "settings": settings,
        "fsync": fsync,
        "rows": [_as_json(r) for r in rows],
        "rounds": [[_as_json(r) for r in round_rows] for round_rows in rounds or [rows]],
        "batching": asdict(batching),
        "targets": {"overhead": OVERHEAD_TARGET, "batching_ratio": BATCHING_TARGET},
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _as_json(row: Row) -> dict[str, Any]:
    """A row's fields and its derived figures."""
    return asdict(row) | {
        "overhead": row.overhead,
        "overhead_quiet": row.overhead_quiet,
        "overhead_first_run": row.overhead_first_run,
        "pipe": row.pipe,
        "bookkeeping": row.bookkeeping,
        "interference": row.interference,
    }
