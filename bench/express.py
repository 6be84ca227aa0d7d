"""`python -m bench.express`: express order latency, idle and behind a backlog of normal orders.

The app at the repository root, deployed as in Azure: the main app (APP_ROLE=main, task hub
JobsHub) and the express app (APP_ROLE=express, its own hub JobsExpress), two devhosts on one
Azurite, with the real activities (PAYMENT_PROVIDER=simulated) and the Service Bus stand-in.
Orders are published as a producer does: stock on the shelf, the customer in the claim check,
a message carrying only its reference. Every round gets a fresh Azurite, devhosts and state.

1. Idle: both apps up; a warm-up, then express orders on `orders-express` one at a time.
2. For each backlog N, rounds in pairs, alternating which goes first:
   - beside: the express app started and warmed up (as the always-ready express app is in
     Azure); N normal orders sent to `orders`; the main app started; once it has started its
     first order, one express order is sent to `orders-express`;
   - alone: the same with no express devhost at all (the topology before the express app).
   Each round waits until the N normal orders completed.

Express latency comes from the express hub's history: start = message enqueued to
ExecutionStarted, run = ExecutionStarted to ExecutionCompleted. Normal throughput = N over the
first ExecutionStarted to the last ExecutionCompleted of the round's normal orders. Medians,
ratios and the targets of issue 20 are printed and written to bench/results/express-<time>.json;
docs/benchmarks.md ("Express orders under load") records them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.factory import OrderAdapters, build_order_adapters
from app_config import StorageConnection, order_storage_names
from bench.express_report import (
    BacklogRound,
    Drain,
    Latency,
    Span,
    drain_of,
    edge_instances,
    render,
    span_of,
    summarize,
    write_json,
)
from devhost.azurite import Azurite
from devhost.servicebus.client import send_message
from devhost.testing import DURABLE, PROJECT_ROOT, DevHostError, DevHostProcess

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
QUEUE, EXPRESS_QUEUE, CONNECTION = "orders", "orders-express", "ServiceBusConnection"
# Settings that would send the bench's messages to a real namespace instead of the stand-in.
LIVE_SETTINGS = (CONNECTION, f"{CONNECTION}__fullyQualifiedNamespace")
CUSTOMER = {"name": "Bench Customer", "email": "bench@example.invalid", "address": "1 Bench Rd"}
EXPRESS_SKU = "BENCH-EXPRESS"
# Once a year: no timer (supervisor, retention, nightly report, notification resend) fires in
# one round and not in another.
NEVER = "0 0 0 1 1 *"
TIMERS = (
    "SUPERVISOR_SCHEDULE",
    "RETENTION_SCHEDULE",
    "NIGHTLY_REPORT_SCHEDULE",
    "NOTIFICATIONS_RESEND_SCHEDULE",
)


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.express",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backlogs", type=_numbers, default=[500, 2000], help="normal orders queued, e.g. 500,2000"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per backlog and topology")
    parser.add_argument(
        "--idle-runs", type=int, default=5, help="idle express orders in each round beside express"
    )
    parser.add_argument("--senders", type=int, default=8, help="threads publishing the backlog")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per round at most")
    parser.add_argument("--no-fsync", action="store_true", help="run devhost with --no-fsync")
    return parser


def app_settings(azurite: Azurite, folder: Path) -> dict[str, str]:
    """local.settings.json.example's values (a newcomer's `make run`) on the bench's Azurite."""
    example = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text("utf-8"))
    return {
        **example["Values"],
        "AzureWebJobsStorage": azurite.connection_string,
        "MAIL_FILE_FOLDER": str(folder / "mail"),
        **dict.fromkeys(TIMERS, NEVER),
    }


class Shop:
    """Publishes orders as a producer does: the customer in the claim check, then the message."""

    def __init__(self, settings: dict[str, str]) -> None:
        self.settings = settings
        connection = StorageConnection(connection_string=settings["AzureWebJobsStorage"])
        self.adapters: OrderAdapters = build_order_adapters(
            connection, order_storage_names(settings), payment_provider=settings["PAYMENT_PROVIDER"]
        )

    def stock(self, skus: list[str], units: int, workers: int) -> None:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda sku: self.adapters.stock.set_level(sku, units), skus))

    def send(self, queue: str, order_id: str, sku: str) -> float:
        """Publish one order; returns the time just before its message was sent."""
        ref = self.adapters.claims.put(order_id, CUSTOMER)
        line = {"sku": sku, "quantity": 1, "unit_price_cents": 2500}
        body = {"order_id": order_id, "currency": "EUR", "lines": [line], "customer_ref": ref}
        at = time.time()
        sent = send_message(
            queue,
            json.dumps(body),
            message_id=order_id,
            connection=CONNECTION,
            app_dir=PROJECT_ROOT,
            environ=self.settings,
        )
        if not sent.accepted:
            raise DevHostError(f"{queue} dropped {order_id} as a duplicate")
        return at

    def backlog(self, prefix: str, count: int, workers: int) -> None:
        """`count` normal orders on `orders`, each for a SKU of its own (no two reserve one)."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sends = [
                pool.submit(self.send, QUEUE, f"{prefix}{i:05d}", normal_sku(i))
                for i in range(count)
            ]
            for send in sends:
                send.result()


def normal_sku(i: int) -> str:
    return f"BENCH-{i:05d}"


class Apps:
    """One round's deployment: a fresh Azurite, the express app and the main app on it.

    Every round starts from empty storage: Azurite keeps its whole account in memory and
    saves all of it to disk as it changes, so it slows down as orders pile up (the storage
    account of Azure does not), and a single Azurite for the whole run made each round
    slower than the one before it.
    """

    def __init__(self, args: argparse.Namespace, folder: Path, azurite: Azurite) -> None:
        self.args, self.folder = args, folder
        self.settings = app_settings(azurite, folder)
        self.shop = Shop(self.settings)
        hub = self.settings["EXPRESS_TASK_HUB_NAME"]
        express_env = {
            **self.settings,
            "APP_ROLE": "express",
            "TASK_HUB_NAME": hub,
            # Its own host id, as in Azure: timers and blob receipts are keyed by it.
            "AzureFunctionsWebHost__hostid": "express",
        }
        self.express = self._devhost(folder / "express", express_env)
        self.main_env = {
            **self.settings,
            "APP_ROLE": "main",
            "DEVHOST_TASK_HUBS": f"{hub}={self.express.base_url}",
        }

    def _devhost(self, state_dir: Path, env: dict[str, str]) -> DevHostProcess:
        return DevHostProcess(
            PROJECT_ROOT,
            state_dir=state_dir,
            env=env,
            fsync=not self.args.no_fsync,
            extra_args=["--log-level", "WARNING"],
        )

    def start_express(self, deadline: float) -> None:
        """Start the express app and run one order through it (imports, tables, connections),
        so that the measured order finds it warm, as the always-ready express app is."""
        self.express.start(timeout=120)
        self.shop.send(EXPRESS_QUEUE, "warm-up", EXPRESS_SKU)
        wait_completed(self.express, "warm-up", deadline)
        self.express.wait_idle()

    @contextmanager
    def main(self) -> Iterator[DevHostProcess]:
        host = self._devhost(self.folder / "main", self.main_env)
        try:
            yield host.start(timeout=120)
        finally:
            host.close()

    def close(self) -> None:
        self.express.close()


@contextmanager
def deployment(args: argparse.Namespace, folder: Path, normal: int) -> Iterator[Apps]:
    """A round's own Azurite, state and apps in `folder` (removed afterwards), stock on the
    shelf for `normal` backlog orders and the express ones; every process stopped at the end."""
    (folder / "azurite").mkdir(parents=True)
    try:
        with Azurite(folder / "azurite", project_root=PROJECT_ROOT) as azurite:
            apps = Apps(args, folder, azurite)
            try:
                apps.shop.stock([normal_sku(i) for i in range(normal)], 10, args.senders)
                apps.shop.stock([EXPRESS_SKU], 100, 1)
                yield apps
            finally:
                apps.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _instances(host: DevHostProcess, prefix: str, top: int, status: str = "") -> list[dict]:
    query = f"instanceIdPrefix=order-{prefix}&top={top}&showInput=false"
    if status:
        query += f"&runtimeStatus={status}"
    answer = host.http.get(host.url(f"{DURABLE}/instances?{query}"), timeout=60)
    answer.raise_for_status()
    return answer.json()


def _poll(what: str, deadline: float, interval: float, check: Callable[[], bool]) -> None:
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise DevHostError(f"{what}: not within the round's time (--timeout)")


def wait_completed(host: DevHostProcess, order_id: str, deadline: float) -> None:
    def completed() -> bool:
        status = host.status(f"order-{order_id}")
        runtime = status and status["runtimeStatus"]
        if runtime in ("Failed", "Terminated"):
            raise DevHostError(f"order {order_id} ended {runtime}: {status}")
        return runtime == "Completed"

    _poll(f"order {order_id} completed", deadline, 0.1, completed)


def wait_drained(host: DevHostProcess, prefix: str, count: int, deadline: float) -> None:
    def drained() -> bool:
        if _instances(host, prefix, 1, "Failed,Terminated"):
            raise DevHostError(f"a normal order {prefix}* failed: see {host.log_path}")
        return len(_instances(host, prefix, count + 1, "Completed")) >= count

    _poll(f"{count} normal orders {prefix}* completed", deadline, 2.0, drained)


def span(host: DevHostProcess, instance_id: str) -> Span:
    status = host.status(instance_id, history=True)
    if status is None:
        raise DevHostError(f"no instance {instance_id}")
    return span_of(status)


def read_drain(host: DevHostProcess, prefix: str, count: int) -> Drain:
    """Exact times from the histories of the few orders that may be first or last."""
    listed = _instances(host, prefix, count + 1, "Completed")
    return drain_of((span(host, i) for i in edge_instances(listed)), count)


def idle_orders(
    args: argparse.Namespace, apps: Apps, main: DevHostProcess, label: str, deadline: float
) -> tuple[Latency, ...]:
    """Express orders one at a time with both apps up and nothing else to do."""
    idle = []
    for i in range(args.idle_runs):
        main.wait_idle()
        apps.express.wait_idle()
        order_id = f"idle-{label}-{i}"
        apps.shop.send(EXPRESS_QUEUE, order_id, EXPRESS_SKU)
        wait_completed(apps.express, order_id, deadline)
        idle.append(Latency.of(span(apps.express, f"order-{order_id}")))
    return tuple(idle)


def backlog_round(
    args: argparse.Namespace, folder: Path, backlog: int, k: int, express_app: bool
) -> BacklogRound:
    """One round: the backlog queued with the main app stopped, then the main app started.
    Beside the express app, idle express orders first (both apps up, no backlog yet), and one
    express order once the main app is at work on the backlog."""
    load = os.getloadavg()[0]
    deadline = time.monotonic() + args.timeout
    label = f"{'x' if express_app else 'a'}{backlog}-{k}"
    prefix = f"{label}-"
    express: dict[str, Any] = {}
    with deployment(args, folder, backlog) as apps:
        if express_app:
            apps.start_express(deadline)
            with apps.main() as main:
                express["idle"] = idle_orders(args, apps, main, label, deadline)
        enqueue = time.monotonic()
        apps.shop.backlog(prefix, backlog, args.senders)
        enqueue_s = time.monotonic() - enqueue
        with apps.main() as main:
            if express_app:
                express |= express_order(apps, main, prefix, backlog, deadline)
            wait_drained(main, prefix, backlog, deadline)
            drain = read_drain(main, prefix, backlog)
    result = BacklogRound(
        backlog=backlog,
        round=k,
        express_app=express_app,
        drain=drain,
        load_before=load,
        enqueue_s=enqueue_s,
        **express,
    )
    print(_progress(result), flush=True)
    return result


def express_order(
    apps: Apps, main: DevHostProcess, prefix: str, backlog: int, deadline: float
) -> dict[str, Any]:
    """Once the main app has started its first backlog order, one express order; its latency
    and how far the main app had got when it was sent and when it completed."""
    _poll("the main app's first order", deadline, 0.05, lambda: bool(_instances(main, prefix, 1)))
    started = len(_instances(main, prefix, backlog + 1))
    order_id = f"express-{prefix.rstrip('-')}"
    apps.shop.send(EXPRESS_QUEUE, order_id, EXPRESS_SKU)
    wait_completed(apps.express, order_id, deadline)
    completed = len(_instances(main, prefix, backlog + 1, "Completed"))
    return {
        "express": Latency.of(span(apps.express, f"order-{order_id}")),
        "normal_started_at_send": started,
        "normal_completed_at_express_done": completed,
    }


def _progress(r: BacklogRound) -> str:
    where = "beside express" if r.express_app else "main alone"
    line = f"  {r.backlog} round {r.round} {where}: {r.drain.per_second:.2f} normal/s"
    if r.express is not None:
        idle = ", ".join(f"{i.latency_s:.2f}" for i in r.idle)
        line += f", express {r.express.latency_s:.2f} s (idle {idle} s)"
    return line


def measure(args: argparse.Namespace, folder: Path, rounds: list[BacklogRound]) -> None:
    """Fill `rounds` (so that a failure keeps what was measured before it)."""
    for backlog in args.backlogs:
        for k in range(args.rounds):
            # Alternating which goes first spreads any drift (other work on the machine)
            # over both topologies.
            order = (False, True) if k % 2 == 0 else (True, False)
            for express_app in order:
                where = folder / f"{'x' if express_app else 'a'}{backlog}-{k}"
                rounds.append(backlog_round(args, where, backlog, k, express_app))


def main(argv: list[str] | None = None) -> int:
    """Run on temporary Azurites and state, print the figures, save them as JSON."""
    args = _parser().parse_args(argv)
    live = [name for name in LIVE_SETTINGS if os.environ.get(name)]
    if live:
        print(f"unset {', '.join(live)}: the benchmark runs on the local stand-in only")
        return 2
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average before the run: {', '.join(f'{x:.2f}' for x in load)}"
    )
    began = time.monotonic()
    rounds: list[BacklogRound] = []
    error = None
    # SIGTERM stops it as Ctrl+C does: every devhost and Azurite it started (each in a session
    # of its own, so not reached by the signal) is stopped, and what was measured is reported.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="bench-express-") as tmp:
        try:
            measure(args, Path(tmp), rounds)
        except (Exception, KeyboardInterrupt) as failure:  # report what was measured before it
            error = f"{type(failure).__name__}: {failure}"
            if not any(r.express_app for r in rounds):
                raise
    wall = time.monotonic() - began
    result = summarize(rounds)
    options = {k: v for k, v in vars(args).items() if k != "timeout"}
    print(render(result, options))
    print(f"run time {wall / 60:.1f} min")
    path = write_json(RESULTS_DIR, result, options, load, wall, error)
    print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    if error:
        print(f"stopped early: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
