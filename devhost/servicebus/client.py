"""The one way the command line and tests send messages and handle dead letters."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devhost.connections import resolve_service_bus, resolve_storage
from devhost.servicebus import live_ops
from devhost.servicebus.declarations import declaration_path, load_declarations
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.models import DeadLetter, OutgoingMessage, Resubmission, SendResult
from devhost.servicebus.names import QueuePath
from devhost.servicebus.options import DEFAULT_CONNECTION
from devhost.servicebus.standin import StandInQueue


def _standin(
    queue: str, app_dir: Path, environ: Mapping[str, str], *, base: bool = False
) -> StandInQueue:
    storage = resolve_storage(environ=environ)
    declarations = load_declarations(declaration_path(app_dir, environ))
    path = QueuePath.parse(queue)
    if base:  # dead-letter commands name the queue, with or without /$deadletterqueue
        path = QueuePath(path.queue)
    return StandInQueue(
        storage.queue_service(),
        Ledger(storage.table_service()),
        declarations.queue(path.queue),
        path,
    )


def send_message(
    queue: str,
    body: bytes | str,
    *,
    message_id: str | None = None,
    correlation_id: str | None = None,
    reply_to: str | None = None,
    content_type: str | None = None,
    subject: str | None = None,
    to: str | None = None,
    session_id: str | None = None,
    application_properties: Mapping[str, Any] | None = None,
    scheduled_enqueue_time: datetime | None = None,
    time_to_live: timedelta | None = None,
    connection: str = DEFAULT_CONNECTION,
    app_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> SendResult:
    """Send one message; a duplicate inside the detection window comes back not accepted."""
    env = os.environ if environ is None else environ
    message = OutgoingMessage(
        body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
        message_id=message_id or uuid.uuid4().hex,
        content_type=content_type,
        correlation_id=correlation_id,
        reply_to=reply_to,
        subject=subject,
        to=to,
        session_id=session_id,
        application_properties=dict(application_properties or {}),
        scheduled_enqueue_time=scheduled_enqueue_time,
        time_to_live=time_to_live,
    )
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return live_ops.send(namespace, queue, message)
    return _standin(queue, Path(app_dir), env).send(message)


def peek_dead_letters(
    queue: str,
    *,
    connection: str = DEFAULT_CONNECTION,
    app_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> tuple[list[DeadLetter], int | None]:
    """The dead letters that can be seen without receiving them, and the total when known."""
    env = os.environ if environ is None else environ
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return live_ops.peek_dead_letters(namespace, QueuePath.parse(queue).queue), None
    envelopes, total = _standin(queue, Path(app_dir), env, base=True).peek_dead_letters()
    return [e.as_dead_letter() for e in envelopes], total


def resubmit_dead_letters(
    queue: str,
    message_id: str | None = None,
    *,
    connection: str = DEFAULT_CONNECTION,
    app_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> list[Resubmission]:
    """Send dead letters back to their queue: all of them, or those with `message_id`."""
    env = os.environ if environ is None else environ
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return live_ops.resubmit(namespace, QueuePath.parse(queue).queue, message_id)
    return _standin(queue, Path(app_dir), env, base=True).resubmit(message_id)
