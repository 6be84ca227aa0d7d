"""The `send-message`, `receive` and `dead-letters` commands of `python -m devhost`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import isodate

from devhost import azurite
from devhost.connections import StorageConnection, resolve_service_bus, resolve_storage
from devhost.servicebus.client import (
    peek_dead_letters,
    receive_messages,
    resubmit_dead_letters,
    send_message,
)
from devhost.servicebus.metrics import dead_letter_stats
from devhost.servicebus.options import DEFAULT_CONNECTION

# The exit code of `dead-letters --resubmit-all` when it sent nothing back (1 is an error).
NOTHING_RESUBMITTED = 3


class CommandError(Exception):
    """A command cannot run as asked; the message says why."""


def storage_for_command() -> StorageConnection:
    """AzureWebJobsStorage, failing fast when it is development storage and nothing listens."""
    storage = resolve_storage()
    if storage.is_development_storage and not azurite.port_is_listening(
        azurite.DEFAULT_HOST, azurite.DEFAULT_QUEUE_PORT
    ):
        raise CommandError(
            "AzureWebJobsStorage is development storage but nothing listens on "
            f"{azurite.DEFAULT_HOST}:{azurite.DEFAULT_QUEUE_PORT}: start devhost (it starts "
            "Azurite) or Azurite first"
        )
    return storage


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app-dir", type=Path, default=Path("."), help="app directory (its local.settings.json)"
    )
    parser.add_argument(
        "--connection",
        default=DEFAULT_CONNECTION,
        help="the Service Bus connection setting (without one, the local stand-in is used)",
    )


def add_parsers(commands: Any) -> None:
    send = commands.add_parser("send-message", help="send a Service Bus message")
    send.add_argument("queue", help="a queue or a topic")
    send.add_argument("file", help="file with the message body, or - for standard input")
    _common(send)
    send.add_argument("--message-id", default=None, help="default: a new random id")
    send.add_argument("--correlation-id", default=None)
    send.add_argument("--reply-to", default=None)
    send.add_argument("--content-type", default=None)
    send.add_argument("--subject", default=None)
    send.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an application property (a string); repeat for more",
    )
    send.add_argument(
        "--scheduled-enqueue-time",
        default=None,
        metavar="ISO",
        help="UTC unless an offset is given",
    )
    send.add_argument(
        "--time-to-live", default=None, metavar="DURATION", help="ISO 8601, e.g. PT30M"
    )
    send.set_defaults(handler=_send)

    receive = commands.add_parser(
        "receive", help="receive (and delete) or peek at messages of a queue or subscription"
    )
    receive.add_argument(
        "entity",
        help="QUEUE, QUEUE/$deadletterqueue, TOPIC/Subscriptions/NAME or its /$deadletterqueue",
    )
    _common(receive)
    receive.add_argument("--max", type=int, default=10, metavar="N", help="at most N (10)")
    receive.add_argument(
        "--peek", action="store_true", help="leave them where they are (at most 32 locally)"
    )
    receive.add_argument(
        "--wait",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long to wait for the first message (1)",
    )
    receive.set_defaults(handler=_receive)

    letters = commands.add_parser(
        "dead-letters",
        help="show or resubmit a queue's dead-lettered messages, or (--stats) every dead-letter "
        "queue's depth and oldest age",
    )
    letters.add_argument("queue", nargs="?", help="a queue or TOPIC/Subscriptions/NAME")
    _common(letters)
    action = letters.add_mutually_exclusive_group()
    action.add_argument("--peek", action="store_true", help="list them (the default)")
    action.add_argument("--resubmit", metavar="MESSAGE_ID", help="send one back to the queue")
    action.add_argument(
        "--resubmit-all",
        action="store_true",
        help=f"send all back; exits {NOTHING_RESUBMITTED} when none was resubmitted "
        "(none there, or all refused), so a script can tell",
    )
    action.add_argument(
        "--stats",
        action="store_true",
        help="depth and oldest age of every declared queue's and subscription's dead letters",
    )
    letters.set_defaults(handler=_dead_letters)


def _properties(pairs: list[str]) -> dict[str, str]:
    properties = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--property takes KEY=VALUE, got {pair!r}")
        properties[key] = value
    return properties


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--scheduled-enqueue-time: {exc}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _send(args: argparse.Namespace) -> int:
    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    ttl = None
    if args.time_to_live:
        try:
            ttl = isodate.parse_duration(args.time_to_live)
        except (isodate.ISO8601Error, ValueError) as exc:
            raise CommandError(f"--time-to-live: {exc}") from exc
    _check_storage(args)
    result = send_message(
        args.queue,
        body,
        message_id=args.message_id,
        correlation_id=args.correlation_id,
        reply_to=args.reply_to,
        content_type=args.content_type,
        subject=args.subject,
        application_properties=_properties(args.property),
        scheduled_enqueue_time=_moment(args.scheduled_enqueue_time),
        time_to_live=ttl,
        connection=args.connection,
        app_dir=args.app_dir,
    )
    print(json.dumps(result.describe()))
    return 0


def _receive(args: argparse.Namespace) -> int:
    if args.max < 1:
        raise CommandError(f"--max must be at least 1, got {args.max}")
    if args.wait < 0:
        raise CommandError(f"--wait must not be negative, got {args.wait}")
    _check_storage(args)
    messages = receive_messages(
        args.entity,
        max_count=args.max,
        max_wait=args.wait,
        peek=args.peek,
        connection=args.connection,
        app_dir=args.app_dir,
    )
    for message in messages:
        print(json.dumps(message.describe(), default=str))
    verb = "peeked at" if args.peek else "received"
    print(f"{verb} {len(messages)} message(s) from '{args.entity}'", file=sys.stderr)
    return 0


def _dead_letters(args: argparse.Namespace) -> int:
    if args.stats:
        return _dead_letter_stats(args)
    if args.queue is None:
        raise CommandError("dead-letters needs a QUEUE (or --stats for every declared one)")
    _check_storage(args)
    where = {"connection": args.connection, "app_dir": args.app_dir}
    if args.resubmit or args.resubmit_all:
        done = resubmit_dead_letters(args.queue, args.resubmit, **where)
        for item in done:
            print(json.dumps(item.describe(), default=str))
        if args.resubmit and not done:
            raise CommandError(f"no dead letter with message id '{args.resubmit}' in {args.queue}")
        resent = sum(1 for item in done if item.result.accepted)
        print(
            f"resubmitted {resent} of {len(done)} dead letter(s) to '{args.queue}'", file=sys.stderr
        )
        return 0 if resent else NOTHING_RESUBMITTED
    letters, total = peek_dead_letters(args.queue, **where)
    for letter in letters:
        print(json.dumps(letter.describe(), default=str))
    shown = f"{len(letters)} dead letter(s) in '{args.queue}'"
    if total is not None and total > len(letters):
        shown += f" shown of about {total} (a storage queue can peek at most 32)"
    print(shown, file=sys.stderr)
    return 0


def _dead_letter_stats(args: argparse.Namespace) -> int:
    if args.queue is not None:
        raise CommandError("--stats reports every declared queue and subscription: leave out QUEUE")
    _check_storage(args)
    stats = dead_letter_stats(args.app_dir, connection=args.connection)
    for entry in stats:
        print(json.dumps(entry.describe()))
    waiting = sum(1 for entry in stats if entry.depth)
    print(f"{waiting} of {len(stats)} declared dead-letter queue(s) hold messages", file=sys.stderr)
    return 0


def _check_storage(args: argparse.Namespace) -> None:
    if resolve_service_bus(args.connection) is None:
        storage_for_command()
