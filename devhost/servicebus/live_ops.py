"""Sends, receives and handles dead letters on a real namespace (unverified against one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from devhost.connections import ServiceBusConnection
from devhost.servicebus.envelope import DEAD_LETTER_DESCRIPTION, DEAD_LETTER_REASON
from devhost.servicebus.live import convert
from devhost.servicebus.models import (
    DeadLetter,
    OutgoingMessage,
    ReceivedMessage,
    Resubmission,
    SendResult,
)
from devhost.servicebus.names import QueuePath

SyncClientFactory = Callable[[ServiceBusConnection], Any]
_PEEK_MAX = 100
_RECEIVE_WAIT = 2.0
_MIN_WAIT = 0.1


def default_sync_client(connection: ServiceBusConnection) -> Any:
    from azure.servicebus import ServiceBusClient

    if connection.connection_string:
        return ServiceBusClient.from_connection_string(connection.connection_string)
    return ServiceBusClient(str(connection.fully_qualified_namespace), connection.credential)


@contextmanager
def _client(connection: ServiceBusConnection, factory: SyncClientFactory) -> Iterator[Any]:
    client = factory(connection)
    try:
        yield client
    finally:
        client.close()


def _sdk_message(message: OutgoingMessage) -> Any:
    from azure.servicebus import ServiceBusMessage

    return ServiceBusMessage(
        message.body,
        application_properties=dict(message.application_properties) or None,
        session_id=message.session_id,
        message_id=message.message_id,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        subject=message.subject,
        partition_key=message.partition_key,
        to=message.to,
        reply_to=message.reply_to,
        reply_to_session_id=message.reply_to_session_id,
        time_to_live=message.time_to_live,
    )


def send(
    connection: ServiceBusConnection,
    queue: str,
    message: OutgoingMessage,
    factory: SyncClientFactory = default_sync_client,
    *,
    topic: bool = False,
) -> SendResult:
    """Send (or schedule) one message to a queue or topic. Duplicates are not reported."""
    with (
        _client(connection, factory) as client,
        client.get_topic_sender(queue) if topic else client.get_queue_sender(queue) as sender,
    ):
        scheduled = message.scheduled_enqueue_time
        if scheduled is not None and scheduled > datetime.now(UTC):
            numbers = sender.schedule_messages(_sdk_message(message), scheduled)
            return SendResult(queue, message.message_id, True, numbers[0], scheduled)
        sender.send_messages(_sdk_message(message))
    return SendResult(queue, message.message_id, True)


def _dead_letter(raw: Any) -> DeadLetter:
    received = convert(raw)
    properties = dict(received.application_properties)
    return DeadLetter(
        message_id=received.message_id,
        sequence_number=received.sequence_number,
        enqueued_time=received.enqueued_time,
        reason=getattr(raw, "dead_letter_reason", None) or properties.get(DEAD_LETTER_REASON),
        description=getattr(raw, "dead_letter_error_description", None)
        or properties.get(DEAD_LETTER_DESCRIPTION),
        body=received.body,
        correlation_id=received.correlation_id,
        content_type=received.content_type,
        application_properties=properties,
        delivery_count=received.delivery_count,
    )


def _receiver(client: Any, path: QueuePath, **options: Any) -> Any:
    from azure.servicebus import ServiceBusSubQueue

    sub_queue = ServiceBusSubQueue.DEAD_LETTER if path.dead_letter else None
    if path.subscription is not None:
        return client.get_subscription_receiver(
            path.queue, path.subscription, sub_queue=sub_queue, **options
        )
    return client.get_queue_receiver(path.queue, sub_queue=sub_queue, **options)


def peek_dead_letters(
    connection: ServiceBusConnection,
    queue: str | QueuePath,
    factory: SyncClientFactory = default_sync_client,
) -> list[DeadLetter]:
    path = queue if isinstance(queue, QueuePath) else QueuePath(queue)
    dead = QueuePath(path.queue, True, path.subscription)
    with _client(connection, factory) as client, _receiver(client, dead) as receiver:
        return [_dead_letter(raw) for raw in receiver.peek_messages(max_message_count=_PEEK_MAX)]


def receive(
    connection: ServiceBusConnection,
    path: QueuePath,
    max_count: int,
    max_wait: float,
    *,
    peek: bool = False,
    factory: SyncClientFactory = default_sync_client,
) -> list[ReceivedMessage]:
    """Receive-and-delete (or peek) up to `max_count` messages, waiting up to `max_wait` s."""
    from azure.servicebus import ServiceBusReceiveMode

    mode = ServiceBusReceiveMode.RECEIVE_AND_DELETE
    with (
        _client(connection, factory) as client,
        _receiver(client, path, receive_mode=mode) as receiver,
    ):
        if peek:
            raw = receiver.peek_messages(max_message_count=max_count)
        else:
            # The SDK waits forever for None and refuses 0: a moment stands for "do not wait".
            wait = max(max_wait, _MIN_WAIT)
            raw = receiver.receive_messages(max_message_count=max_count, max_wait_time=wait)
        return [convert(message) for message in raw]


def resubmit(
    connection: ServiceBusConnection,
    queue: str,
    message_id: str | None,
    factory: SyncClientFactory = default_sync_client,
) -> list[Resubmission]:
    """Copy dead letters back to the queue, then complete them in the dead-letter queue."""
    from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

    done: list[Resubmission] = []
    with (
        _client(connection, factory) as client,
        client.get_queue_receiver(
            queue,
            sub_queue=ServiceBusSubQueue.DEAD_LETTER,
            receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
        ) as receiver,
        client.get_queue_sender(queue) as sender,
    ):
        skipped: list[Any] = []
        while batch := receiver.receive_messages(max_message_count=50, max_wait_time=_RECEIVE_WAIT):
            for raw in batch:
                letter = _dead_letter(raw)
                if message_id is not None and letter.message_id != message_id:
                    skipped.append(raw)
                    continue
                properties = {
                    k: v
                    for k, v in letter.application_properties.items()
                    if k not in (DEAD_LETTER_REASON, DEAD_LETTER_DESCRIPTION)
                }
                copy = OutgoingMessage(
                    body=letter.body,
                    message_id=letter.message_id,
                    content_type=letter.content_type,
                    correlation_id=letter.correlation_id,
                    reply_to=raw.reply_to,
                    subject=raw.subject,
                    to=raw.to,
                    session_id=raw.session_id,
                    application_properties=properties,
                )
                sender.send_messages(_sdk_message(copy))
                receiver.complete_message(raw)
                done.append(Resubmission(letter, SendResult(queue, letter.message_id, True)))
        for raw in skipped:
            receiver.abandon_message(raw)
    return done
