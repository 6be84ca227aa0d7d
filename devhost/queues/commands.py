"""The `enqueue` command of `python -m devhost`: put a message on a storage queue as the host
would read it (Base64 unless the app's host.json sets messageEncoding "none")."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from devhost import azurite
from devhost.connections import DEFAULT_STORAGE, StorageConnection, resolve_storage
from devhost.queues.message import MAX_MESSAGE_BYTES, encode_body
from devhost.queues.names import validate
from devhost.queues.options import QueueTriggerOptions
from devhost.queues.storage import StorageQueue
from devhost.servicebus.commands import CommandError
from devhost.settings import load_host_options


def add_parser(commands: Any) -> None:
    enqueue = commands.add_parser(
        "enqueue", help="add a message to a storage queue, encoded as the queue trigger reads it"
    )
    enqueue.add_argument("queue", help="the queue name (created if missing)")
    enqueue.add_argument("file", help="file with the message body, or - for standard input")
    enqueue.add_argument(
        "--app-dir", type=Path, default=Path("."), help="app directory (settings and host.json)"
    )
    enqueue.add_argument(
        "--connection",
        default=DEFAULT_STORAGE,
        help="the storage connection setting (default AzureWebJobsStorage)",
    )
    enqueue.add_argument(
        "--count", type=int, default=1, metavar="N", help="add N copies of the message (1)"
    )
    enqueue.set_defaults(handler=run)


def _storage(connection: str) -> StorageConnection:
    storage = resolve_storage(connection)
    if storage.is_development_storage and not azurite.port_is_listening(
        azurite.DEFAULT_HOST, azurite.DEFAULT_QUEUE_PORT
    ):
        raise CommandError(
            f"{connection} is development storage but nothing listens on "
            f"{azurite.DEFAULT_HOST}:{azurite.DEFAULT_QUEUE_PORT}: start devhost (it starts "
            "Azurite) or Azurite first"
        )
    return storage


def message_text(body: bytes, app_dir: Path) -> str:
    """The stored text for `body` under the app's host.json messageEncoding, size-checked."""
    encoding = QueueTriggerOptions.from_host_json(load_host_options(app_dir).raw).message_encoding
    text = encode_body(body, encoding)
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise CommandError(
            f"the message is {size} bytes as stored ({encoding}); a storage queue message holds "
            "at most 64 KiB: send a reference to a blob instead"
        )
    return text


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise CommandError("--count must be at least 1")
    name = validate(args.queue.lower())
    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    text = message_text(body, args.app_dir.resolve())
    queue = StorageQueue(_storage(args.connection).queue_service(), name)
    for _ in range(args.count):
        sent = queue.send_creating(text)
        print(
            json.dumps(
                {
                    "queue": name,
                    "messageId": sent.id,
                    "insertionTime": sent.inserted_on,
                    "expirationTime": sent.expires_on,
                    "bytes": len(body),
                },
                default=lambda v: v.isoformat(),
            ),
            flush=True,
        )
    return 0
