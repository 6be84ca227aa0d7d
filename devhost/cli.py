"""Command line: `python -m devhost start|send-message|receive|dead-letters|upload|enqueue ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import mimetypes
import os
import signal
import sys
import threading
from pathlib import Path

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import ContentSettings

from devhost.connections import ConnectionNotConfigured
from devhost.host import DevHost, HostConfig
from devhost.indexing import IndexingError
from devhost.queues import commands as queue_commands
from devhost.servicebus import commands as servicebus_commands
from devhost.settings import SettingsError, apply_local_settings, load_local_settings


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
    start.add_argument(
        "--replay-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replay orchestrators in a worker process of their own, apart from devhost's HTTP "
        "and storage work, as the host and the Python worker are apart in Azure (the default; "
        "--no-replay-process replays them in devhost's own process)",
    )
    start.add_argument(
        "--no-local-settings",
        action="store_true",
        help="do not read APP_DIR/local.settings.json: settings come from the environment only "
        "(what tests use, so that a developer's own file cannot change them)",
    )
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM, how long in-flight invocations may take to finish (default 10)",
    )
    servicebus_commands.add_parsers(commands)
    upload = commands.add_parser(
        "upload", help="upload a file as a blob to the app's AzureWebJobsStorage account"
    )
    upload.add_argument("blob", help="container/path/of/the/blob")
    upload.add_argument("file", type=Path, help="the file to upload")
    upload.add_argument("--app-dir", type=Path, default=Path("."), help="app directory")
    upload.add_argument("--content-type", default=None, help="default: guessed from the name")
    upload.set_defaults(handler=_upload)
    queue_commands.add_parser(commands)
    return parser


def _upload(args: argparse.Namespace) -> int:
    """Upload a blob (overwriting), creating the container if needed; prints what it did."""
    container, _, name = args.blob.strip("/").partition("/")
    if not container or not name:
        raise servicebus_commands.CommandError("the blob must be given as container/path")
    data = args.file.read_bytes()
    content_type = args.content_type or mimetypes.guess_type(name)[0]
    service = servicebus_commands.storage_for_command().blob_service()
    with contextlib.suppress(ResourceExistsError):
        service.create_container(container)
    blob = service.get_blob_client(container, name)
    settings = ContentSettings(content_type=content_type) if content_type else None
    uploaded = blob.upload_blob(data, overwrite=True, content_settings=settings)
    print(
        json.dumps(
            {"uploaded": blob.url, "bytes": len(data), "etag": uploaded.get("etag")},
            default=str,
        )
    )
    return 0


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


def _run_tool(args: argparse.Namespace) -> int:
    """A one-shot command: reads APP_DIR/local.settings.json as `start` does, then runs."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        apply_local_settings(load_local_settings(args.app_dir.resolve()))
        return int(args.handler(args))
    except (
        servicebus_commands.CommandError,
        SettingsError,
        ConnectionNotConfigured,
        ValueError,
        OSError,
        AzureError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "start":
        return _run_tool(args)
    return _start(args)


def _start(args: argparse.Namespace) -> int:
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
        replay_process=args.replay_process,
        local_settings=not args.no_local_settings,
    )
    code = asyncio.run(_serve(config))
    _exit_past_stuck_invocations(code)
    return code


def _exit_past_stuck_invocations(code: int) -> None:
    """Exit now if synchronous functions still run after the shutdown grace period.

    Their messages were already given back (never completed), as the host does before the
    worker process is killed; waiting for the threads would keep devhost alive past SIGTERM,
    since Python joins thread-pool threads at exit.
    """
    stuck = [
        t for t in threading.enumerate() if t.name.startswith("devhost-worker") and t.is_alive()
    ]
    if not stuck:
        return
    logging.getLogger("devhost").warning(
        "%d function invocation(s) still running after the shutdown grace period: exiting "
        "without waiting for them",
        len(stuck),
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
