"""`python -m bench`: devhost's overhead over the SDK's own replay time (the floor)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.history import Recorded, read_instance, rebatch_fan_in
from bench.replay import Handle, load_orchestrators, measure_floor
from bench.report import Batching, Row, make_row, render, total_row, write_json
from bench.scenarios import Run, run_chain, run_events, run_fan_out
from devhost.durable.replay_inputs import cut_episodes
from devhost.testing import DevHostProcess

BENCH_DIR = Path(__file__).resolve().parent
APP_DIR = BENCH_DIR / "apps" / "replay_bench"
RESULTS_DIR = BENCH_DIR / "results"


def _parser() -> argparse.ArgumentParser:
    """Command-line options; the defaults are the recorded configuration."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--chain", type=int, default=100, help="activities in the chain")
    parser.add_argument("--fan-out", type=int, default=1000, help="activities in the fan-out")
    parser.add_argument("--events", type=int, default=1000, help="external events to raise")
    parser.add_argument("--clients", type=int, default=4, help="concurrent event raisers")
    parser.add_argument("--batch", type=int, default=32, help="reference fan-in batch size")
    parser.add_argument("--repeat", type=int, default=3, help="replays per episode (best kept)")
    parser.add_argument("--no-fsync", action="store_true", help="run devhost with --no-fsync")
    return parser


def run_devhost(args: argparse.Namespace, state_dir: Path) -> list[Run]:
    """Warm devhost up, then run the three scenarios one after another."""
    host = DevHostProcess(
        APP_DIR,
        state_dir=state_dir,
        fsync=not args.no_fsync,
        extra_args=["--log-level", "WARNING"],
    )
    host.start()
    try:
        run_chain(host, 2)  # warm-up: first imports, SQLite pages, HTTP connections
        run_fan_out(host, 2)
        run_events(host, 2, 1)
        return [
            run_chain(host, args.chain),
            run_fan_out(host, args.fan_out),
            run_events(host, args.events, args.clients),
        ]
    finally:
        host.close()


def floor_row(run: Run, handle: Handle, recorded: Recorded, repeat: int) -> Row:
    """Replay devhost's episodes of one run and set the run against that floor."""
    episodes = cut_episodes(recorded.events)
    floor = measure_floor(handle, recorded, recorded.events, episodes, repeat)
    return make_row(run, floor, len(recorded.events), episodes)


def batching(
    handle: Handle, fan: Recorded, fan_in_floor_s: float, args: argparse.Namespace
) -> Batching:
    """The same fan-in replayed with `args.batch` completions per episode, and with all in one."""

    def floor(batch: int) -> tuple[float, int]:
        events = rebatch_fan_in(fan.events, batch)
        result = measure_floor(handle, fan, events, cut_episodes(events), args.repeat)
        return result.seconds, result.episodes

    batched_s, batched_episodes = floor(args.batch)
    single_s, _ = floor(len(fan.events))
    return Batching(
        batch=args.batch,
        fan_in_floor_s=fan_in_floor_s,
        batched_floor_s=batched_s,
        batched_episodes=batched_episodes,
        single_episode_floor_s=single_s,
        ratio=fan_in_floor_s / batched_s,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, replay their histories for the floor, print and record the figures."""
    args = _parser().parse_args(argv)
    fsync = not args.no_fsync
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-state-") as state:
        runs = run_devhost(args, Path(state))
        db = Path(state) / "durable.sqlite3"
        recorded = {run.scenario: read_instance(db, run.instance_id) for run in runs}
    handles = load_orchestrators(APP_DIR)
    rows = [
        floor_row(run, handles[run.scenario], recorded[run.scenario], args.repeat) for run in runs
    ]
    fan_in_floor = next(r.floor_s for r in rows if r.scenario == "fan_out")
    batch = batching(handles["fan_out"], recorded["fan_out"], fan_in_floor, args)
    rows.append(total_row(rows))
    print(render(rows, batch, fsync, load))
    settings = {k: v for k, v in vars(args).items() if k != "no_fsync"}
    path = write_json(RESULTS_DIR, rows, batch, fsync, settings, load)
    print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
