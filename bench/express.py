"""`python -m bench.express`: how long an express order takes with and without a normal backlog.

On devhost with the Service Bus stand-in on its own Azurite, the bench app
(bench/apps/express_bench: the real triggers and order workflow over short stub activities):

1. completes a few express orders one at a time on an idle system;
2. enqueues N normal orders on `orders` and then one express order on `orders-express`, starts
   the app, and waits until all are done (`--loaded-runs` rounds);
3. unless `--no-second-hub`: the same backlog, with the express order served by a second task
   hub (a second devhost with its own state, running only the express trigger).

It prints each express order's completion latency, split into the start (to ExecutionStarted:
queue wait and trigger) and the run (to ExecutionCompleted), the ratio to the idle median, and
how many normal orders had completed when the express one did. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.express_report import Round, Runs, Sent, read_timings, render, summarize, write_json
from devhost.azurite import Azurite
from devhost.servicebus.client import send_message
from devhost.testing import DURABLE, PROJECT_ROOT, DevHostError, DevHostProcess

BENCH_DIR = Path(__file__).resolve().parent
APP_DIR = BENCH_DIR / "apps" / "express_bench"
RESULTS_DIR = BENCH_DIR / "results"
CONNECTION = "ServiceBusConnection"
# Settings that would send the bench's messages to a real namespace instead of the stand-in.
LIVE_SETTINGS = (CONNECTION, f"{CONNECTION}__fullyQualifiedNamespace")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.express", description=__doc__)
    parser.add_argument("--normal", type=int, default=500, help="normal orders in the backlog")
    parser.add_argument("--idle-runs", type=int, default=5, help="express orders on an idle system")
    parser.add_argument(
        "--loaded-runs", type=int, default=1, help="rounds of backlog + one express order"
    )
    parser.add_argument(
        "--io-scale", type=float, default=1.0, help="scales the activities' round-trip waits"
    )
    parser.add_argument(
        "--second-hub",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also a round with the express queue served by a second task hub",
    )
    parser.add_argument("--senders", type=int, default=4, help="threads enqueueing the backlog")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    parser.add_argument("--no-fsync", action="store_true", help="run devhost with --no-fsync")
    return parser


def order_message(order_id: str) -> str:
    """A queue message as a publisher sends it: the customer stored first, only its reference."""
    return json.dumps(
        {
            "order_id": order_id,
            "currency": "EUR",
            "lines": [{"sku": "BOOK-1", "quantity": 1, "unit_price_cents": 2500}],
            "customer_ref": f"claim://orders-private/customers/{order_id}.json",
        }
    )


class Bench:
    """One devhost and the stand-in queues it reads; sends orders and waits for them."""

    def __init__(self, host: DevHostProcess, env: dict[str, str], deadline: float) -> None:
        self.host = host
        self.env = env
        self.deadline = deadline

    def send(self, queue: str, order_id: str) -> Sent:
        at = time.time()
        result = send_message(
            queue,
            order_message(order_id),
            message_id=order_id,
            connection=CONNECTION,
            app_dir=APP_DIR,
            environ=self.env,
        )
        if not result.accepted:
            raise DevHostError(f"{queue} dropped {order_id} as a duplicate")
        return Sent(order_id, queue, at)

    def wait_completed(self, order_id: str) -> None:
        """Poll the instance until it completes (its exact time comes from the history later)."""
        while time.monotonic() < self.deadline:
            status = self.host.status(f"order-{order_id}")
            if status is not None and status["runtimeStatus"] == "Completed":
                return
            if status is not None and status["runtimeStatus"] in ("Failed", "Terminated"):
                raise DevHostError(f"order {order_id} ended {status['runtimeStatus']}: {status}")
            time.sleep(0.025)
        raise DevHostError(f"order {order_id} did not complete in time")

    def wait_all_completed(self, prefix: str, count: int) -> None:
        """Poll the instance list until `count` instances named `order-<prefix>` completed."""
        url = self.host.url(
            f"{DURABLE}/instances?instanceIdPrefix=order-{prefix}"
            f"&runtimeStatus=Completed&top={count + 1}"
        )
        while time.monotonic() < self.deadline:
            done = len(self.host.http.get(url, timeout=30).json())
            if done >= count:
                return
            time.sleep(1.0)
        raise DevHostError(f"only some of the {count} normal orders completed in time")


def _devhost(args: argparse.Namespace, state_dir: Path, env: dict[str, str]) -> DevHostProcess:
    return DevHostProcess(
        APP_DIR,
        state_dir=state_dir,
        env=env,
        fsync=not args.no_fsync,
        extra_args=["--log-level", "WARNING"],
    )


def run(args: argparse.Namespace, state_dir: Path, azurite: Azurite) -> Runs:
    """Warm up, express orders on an idle system, then rounds with a normal backlog."""
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(PROJECT_ROOT / "infra" / "servicebus.json"),
        "EXPRESS_BENCH_IO_SCALE": str(args.io_scale),
    }
    host = _devhost(args, state_dir, env).start()
    bench = Bench(host, env, time.monotonic() + args.timeout)
    runs = Runs(idle=[], rounds=[])
    try:
        warm = bench.send("orders-express", "warm-up")  # imports, SQLite pages, connections
        bench.wait_completed(warm.order_id)
        for i in range(args.idle_runs):
            host.wait_idle()
            runs.idle.append(bench.send("orders-express", f"idle-{i}"))
            bench.wait_completed(runs.idle[-1].order_id)
        for k in range(args.loaded_runs):
            runs.rounds.append(shared_round(bench, args, k))
        if args.second_hub:
            runs.isolated = isolated_round(bench, args, state_dir / "express-hub")
    finally:
        host.close()
    return runs


def enqueue_backlog(bench: Bench, args: argparse.Namespace, prefix: str) -> list[Sent]:
    """N normal orders on `orders`, sent while no app reads the queue.

    The stand-in's sender is slower than the app drains the queue (tens of ms per message on the
    same cores), so sending into a running app would never build a backlog. Azure sees the same
    backlog after an outage, or when a burst arrives faster than the app scales out.
    """
    ids = [f"{prefix}-{i:04d}" for i in range(args.normal)]
    with ThreadPoolExecutor(max_workers=args.senders) as pool:
        return list(pool.map(lambda oid: bench.send("orders", oid), ids))


def shared_round(bench: Bench, args: argparse.Namespace, k: int) -> Round:
    """The backlog, then one express order, then the app (one task hub) starts on both."""
    bench.host.wait_idle()
    bench.host.stop()
    normal = enqueue_backlog(bench, args, f"n{k}")
    express = bench.send("orders-express", f"express-{k}")
    bench.host.start()
    ready = time.time()
    bench.wait_completed(express.order_id)
    bench.wait_all_completed(f"n{k}-", args.normal)
    return Round(ready, normal, express)


def isolated_round(bench: Bench, args: argparse.Namespace, hub_dir: Path) -> Round:
    """The same backlog in the first task hub; the express order served by a second one.

    A second devhost with its own state is a second task hub (in Azure: a second function app,
    or the same code with another hubName and its own storage), running only the express
    trigger, as that app would with the other trigger disabled.
    """
    bench.host.wait_idle()
    bench.host.stop()
    second = _devhost(args, hub_dir, {**bench.env, "EXPRESS_BENCH_ONLY_QUEUE": "orders-express"})
    second.start()
    try:
        express_hub = Bench(second, bench.env, bench.deadline)
        express_hub.wait_completed(express_hub.send("orders-express", "hub2-warm-up").order_id)
        normal = enqueue_backlog(bench, args, "i")
        bench.host.start(env={"EXPRESS_BENCH_ONLY_QUEUE": "orders"})
        ready = time.time()
        express = express_hub.send("orders-express", "express-isolated")
        express_hub.wait_completed(express.order_id)
        bench.wait_all_completed("i-", args.normal)
    finally:
        second.close()
    return Round(ready, normal, express)


def main(argv: list[str] | None = None) -> int:
    """Run on a temporary Azurite and state, print the figures, save them as JSON."""
    args = _parser().parse_args(argv)
    live = [name for name in LIVE_SETTINGS if os.environ.get(name)]
    if live:
        print(f"unset {', '.join(live)}: the benchmark runs on the local stand-in only")
        return 2
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-express-") as tmp:
        (Path(tmp) / "azurite").mkdir()
        with Azurite(Path(tmp) / "azurite", project_root=PROJECT_ROOT) as azurite:
            runs = run(args, Path(tmp) / "state", azurite)
        timings = read_timings(Path(tmp) / "state" / "durable.sqlite3")
        if runs.isolated is not None:
            timings |= read_timings(Path(tmp) / "state" / "express-hub" / "durable.sqlite3")
    result = summarize(runs, timings)
    settings = {k: v for k, v in vars(args).items() if k not in ("timeout",)}
    print(render(result, settings))
    path = write_json(RESULTS_DIR, result, settings, load)
    print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
