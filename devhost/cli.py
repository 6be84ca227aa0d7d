"""Command line: `python -m devhost start [APP_DIR] [--port] [--state-dir] [--virtual-time] ...`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from devhost.host import DevHost, HostConfig
from devhost.indexing import IndexingError
from devhost.settings import SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="host a Functions app locally")
    start.add_argument("app_dir", nargs="?", default=".", type=Path, help="app directory")
    start.add_argument("--port", type=int, default=7071)
    start.add_argument("--host", default="127.0.0.1", help="address to listen on")
    start.add_argument(
        "--state-dir", type=Path, default=None, help="where durable state lives (APP_DIR/.devhost)"
    )
    start.add_argument(
        "--virtual-time",
        action="store_true",
        help="durable timers fire as soon as nothing else is pending",
    )
    start.add_argument(
        "--no-azurite", action="store_true", help="never start Azurite, even for dev storage"
    )
    start.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not fsync durable state on commit (faster, not crash-safe against power loss)",
    )
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM, how long in-flight invocations may take to finish (default 10)",
    )
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="[%(asctime)s] %(message)s",
        stream=sys.stdout,
    )
    # The Azure SDKs log every HTTP request at INFO; keep the console about the app.
    logging.getLogger("azure").setLevel(logging.WARNING)


async def _serve(config: HostConfig) -> int:
    host = DevHost(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await host.start()
    except (IndexingError, SettingsError, OSError) as exc:
        logging.getLogger("devhost").error("devhost could not start: %s", exc)
        await host.stop()
        return 1
    await stop.wait()
    logging.getLogger("devhost").info("Stopping devhost")
    await host.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.log_level)
    config = HostConfig(
        app_dir=args.app_dir,
        port=args.port,
        host=args.host,
        state_dir=args.state_dir,
        virtual_time=args.virtual_time,
        start_azurite=not args.no_azurite,
        fsync=not args.no_fsync,
        shutdown_grace=args.shutdown_grace,
    )
    return asyncio.run(_serve(config))
