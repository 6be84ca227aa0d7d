"""The one way the command line and tests send, receive and handle dead letters."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devhost.connections import resolve_service_bus
from devhost.servicebus import live_ops
from devhost.servicebus.delivery import LockLost
from devhost.servicebus.models import (
    DeadLetter,
    OutgoingMessage,
    ReceivedMessage,
    Resubmission,
    SendResult,
)
from devhost.servicebus.names import QueuePath
from devhost.servicebus.namespace import StandInNamespace
from devhost.servicebus.options import DEFAULT_CONNECTION
from devhost.servicebus.standin import StandInQueue

# A storage queue hands out at most 32 messages per receive or peek.
_STORAGE_BATCH = 32
_POLL = 0.1


def _receiver(entity: str, app_dir: Path, environ: Mapping[str, str]) -> StandInQueue:
    return StandInNamespace.from_settings(app_dir, environ).receiver(QueuePath.parse(entity))


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
    topic: bool = False,
    connection: str = DEFAULT_CONNECTION,
    app_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> SendResult:
    """Send one message to a queue or topic; a duplicate inside the window comes back not accepted.

    `queue` may name a declared topic. With `topic=True` it must be one (on the stand-in, an
    undeclared topic is an EntityNotFound error, as a missing entity is in Service Bus).
    """
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
        return live_ops.send(namespace, queue, message, topic=topic)
    return StandInNamespace.from_settings(app_dir, env).sender(queue, topic=topic).send(message)


def receive_messages(
    entity: str,
    *,
    max_count: int = 10,
    max_wait: float = 1.0,
    peek: bool = False,
    connection: str = DEFAULT_CONNECTION,
    app_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> list[ReceivedMessage]:
    """Receive (and delete) up to `max_count` messages, or only peek at them.

    `entity` is a queue, `<queue>/$deadletterqueue`, `<topic>/Subscriptions/<name>` or that
    subscription's `/$deadletterqueue`. Waits up to `max_wait` seconds for the first message,
    then returns what is there. Receiving applies the entity's semantics first, as a receiver
    would: expired messages are dead-lettered or dropped, scheduled ones stay hidden. On the
    stand-in a peek sees at most 32 messages (a storage queue's peek limit).
    """
    if max_count < 1:
        raise ValueError("max_count must be at least 1")
    if max_wait < 0:
        raise ValueError("max_wait must not be negative")
    env = os.environ if environ is None else environ
    path = QueuePath.parse(entity)
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return live_ops.receive(namespace, path, max_count, max_wait, peek=peek)
    queue = _receiver(entity, Path(app_dir), env)
    deadline = time.monotonic() + max_wait
    while True:
        found = queue.peek(max_count) if peek else _receive_and_delete(queue, max_count)
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))


def _receive_and_delete(queue: StandInQueue, max_count: int) -> list[ReceivedMessage]:
    received: list[ReceivedMessage] = []
    while len(received) < max_count:
        batch = queue.receive(min(max_count - len(received), _STORAGE_BATCH))
        if not batch:
            break
        for locked in batch:
            try:
                queue.complete(locked)
            except LockLost:
                continue  # another receiver took it meanwhile
            received.append(locked.envelope.received(locked.delivery_count, ""))
    return received


def peek_dead_letters(
    queue: str,
    *,
    connection: str = DEFAULT_CONNECTION,
    app_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> tuple[list[DeadLetter], int | None]:
    """The dead letters that can be seen without receiving them, and the total when known.

    `queue` is a queue or `<topic>/Subscriptions/<name>`, with or without `/$deadletterqueue`.
    """
    env = os.environ if environ is None else environ
    path = QueuePath.parse(queue).base
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return live_ops.peek_dead_letters(namespace, path), None
    envelopes, total = _receiver(str(path), Path(app_dir), env).peek_dead_letters()
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
    path = QueuePath.parse(queue).base
    if path.subscription is not None:
        raise ValueError(
            f"resubmitting the dead letters of subscription '{path}' is not supported yet: "
            "Service Bus takes no sends to a subscription (send them to the topic again)"
        )
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return live_ops.resubmit(namespace, path.queue, message_id)
    return _receiver(str(path), Path(app_dir), env).resubmit(message_id)
