"""`python -m bench`: devhost's overhead over the SDK's own replay time (the floor)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.history import Recorded, read_instance, rebatch_fan_in
from bench.replay import Handle, load_orchestrators, measure_floor
from bench.report import Batching, Row, make_row, render, render_rounds, total_row, write_json
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
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds of the three scenarios, each scenario followed at once by its quiet "
        "floor; the round with the median overall overhead is reported",
    )
    parser.add_argument("--no-fsync", action="store_true", help="run devhost with --no-fsync")
    parser.add_argument(
        "--replay-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="devhost replays in a worker process of its own (its default); "
        "--no-replay-process replays in devhost's process, where there is no run floor",
    )
    return parser


def start_devhost(args: argparse.Namespace, state_dir: Path) -> DevHostProcess:
    """Start devhost on the bench app and warm it up."""
    host = DevHostProcess(
        APP_DIR,
        state_dir=state_dir,
        fsync=not args.no_fsync,
        extra_args=["--log-level", "WARNING"]
        + ([] if args.replay_process else ["--no-replay-process"]),
    )
    host.start()
    try:
        run_chain(host, 2)  # warm-up: first imports, SQLite pages, HTTP connections
        run_fan_out(host, 2)
        run_events(host, 2, 1)
    except BaseException:
        host.close()
        raise
    return host


def scenarios(args: argparse.Namespace) -> list[Callable[[DevHostProcess], Run]]:
    """The three scenarios, in the order a round runs them."""
    return [
        lambda host: run_chain(host, args.chain),
        lambda host: run_fan_out(host, args.fan_out),
        lambda host: run_events(host, args.events, args.clients),
    ]


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


def measure_round(
    number: int,
    host: DevHostProcess,
    db: Path,
    handles: dict[str, Handle],
    args: argparse.Namespace,
) -> tuple[list[Row], dict[str, Recorded]]:
    """Run each scenario on devhost, then replay its histories for the quiet floor at once.

    The quiet floor is measured while devhost sits idle, seconds after the run it is set
    against, so both see about the same load on a shared machine (a floor taken once at the
    end drifted from early runs by as much as the overhead itself).
    """
    print(f"round {number}/{args.rounds}:", end="", flush=True)
    rows: list[Row] = []
    recorded: dict[str, Recorded] = {}
    for scenario in scenarios(args):
        run = scenario(host)
        # devhost is idle; its SQLite file is in WAL mode, so this read sees every commit.
        recorded[run.scenario] = read_instance(db, run.instance_id)
        rows.append(floor_row(run, handles[run.scenario], recorded[run.scenario], args.repeat))
        print(f" {run.scenario} {rows[-1].overhead:.2f}", end="", flush=True)
    rows.append(total_row(rows))
    print(f", all {rows[-1].overhead:.2f}")
    return rows, recorded


def main(argv: list[str] | None = None) -> int:
    """Run the rounds, replay their histories for the floor, print and record the figures."""
    args = _parser().parse_args(argv)
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    fsync = not args.no_fsync
    load = os.getloadavg()
    handles = load_orchestrators(APP_DIR)
    rounds: list[list[Row]] = []
    fans: list[Recorded] = []
    with tempfile.TemporaryDirectory(prefix="bench-state-") as state:
        host = start_devhost(args, Path(state))
        try:
            for number in range(1, args.rounds + 1):
                rows, recorded = measure_round(
                    number, host, Path(state) / "durable.sqlite3", handles, args
                )
                rounds.append(rows)
                fans.append(recorded["fan_out"])
        finally:
            host.close()
    overall = [rows[-1].overhead for rows in rounds]
    median = overall.index(statistics.median_low(overall))
    median_round = rounds[median]
    fan_in_floor = next(r.floor_s for r in median_round if r.scenario == "fan_out")
    batch = batching(handles["fan_out"], fans[median], fan_in_floor, args)
    print()
    print(render_rounds(rounds))
    print()
    print(render(median_round, batch, fsync, load))
    where = "a worker process (the default)" if args.replay_process else "devhost's process"
    print(f"replays ran in {where}")
    settings = {k: v for k, v in vars(args).items() if k != "no_fsync"}
    path = write_json(RESULTS_DIR, median_round, batch, fsync, settings, load, rounds)
    print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
