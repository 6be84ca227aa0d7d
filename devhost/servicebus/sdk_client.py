"""A ServiceBusClient look-alike that sends to devhost's stand-in, for the app's own SDK sends.

It is what `azure.servicebus.ServiceBusClient.from_connection_string()` returns inside devhost
for the Service Bus emulator's connection string (see sdk_shim.py). It covers sending only:
the client and its queue and topic senders as context managers, `send_messages()` with
`ServiceBusMessage` objects, lists of them or a batch from `create_message_batch()`. Errors
are the SDK's own types where Service Bus would raise one, so the app's handling is exercised;
what devhost does not emulate raises NotImplementedError naming devhost and the method.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch
from azure.servicebus.amqp import AmqpAnnotatedMessage, AmqpMessageBodyType
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    ServiceBusConnectionError,
)

from devhost.servicebus.models import OutgoingMessage, SendResult
from devhost.servicebus.names import EntityNameError
from devhost.servicebus.namespace import EntityNotFound, StandInNamespace
from devhost.servicebus.standin import MessageTooLarge

# Service Bus Standard's largest message and batch (256 KB); the stand-in's own limit on one
# message is lower and reported when a message is sent.
MAX_BATCH_BYTES = 256 * 1024
# The values Service Bus application properties take that the stand-in's JSON envelope keeps
# with their type; the trigger hands them to a function as JSON in Azure too.
_PROPERTY_TYPES = (str, int, float, bool, type(None))
_CLOSED = (
    "The handler has already been shutdown. Please use ServiceBusClient to create a new instance."
)


def unsupported(what: str, hint: str = "") -> NoReturn:
    raise NotImplementedError(
        f"devhost's Service Bus stand-in does not support {what}: it emulates sending only "
        "(ServiceBusClient.from_connection_string(...).get_queue_sender / get_topic_sender, "
        "send_messages, create_message_batch)." + (f" {hint}" if hint else "")
    )


def _settings(connection_string: str) -> dict[str, str]:
    pairs = [part.split("=", 1) for part in connection_string.strip().rstrip(";").split(";")]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("Connection string is either blank or malformed.")
    return {key.strip().lower(): value.strip() for key, value in pairs}


class StandInServiceBusClient:
    """The stand-in's ServiceBusClient: hands out senders; receiving is not emulated."""

    def __init__(self, connection_string: str, app_dir: Path) -> None:
        settings = _settings(connection_string)
        endpoint = settings.get("endpoint") or settings.get("hostname")
        if not endpoint:
            raise ValueError("Connection string is either blank or malformed.")
        self.fully_qualified_namespace = urlparse(endpoint).netloc or endpoint
        self._entity_name = settings.get("entitypath") or None
        self._app_dir = app_dir
        self._namespace: StandInNamespace | None = None
        self._lock = threading.Lock()
        self._senders: list[StandInSender] = []

    def __enter__(self) -> StandInServiceBusClient:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every sender this client handed out, as the SDK's client does."""
        with self._lock:
            senders, self._senders = self._senders, []
        for sender in senders:
            sender.close()

    def namespace(self) -> StandInNamespace:
        """The stand-in, set up on first use: storage and declaration as devhost reads them."""
        with self._lock:
            if self._namespace is None:
                self._namespace = StandInNamespace.from_settings(self._app_dir)
            return self._namespace

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> StandInSender:
        if self._entity_name and queue_name != self._entity_name:
            raise ValueError(
                "The queue name provided does not match the EntityPath in "
                "the connection string used to construct the ServiceBusClient."
            )
        return self._sender(queue_name, topic=False)

    def get_topic_sender(self, topic_name: str, **kwargs: Any) -> StandInSender:
        if self._entity_name and topic_name != self._entity_name:
            raise ValueError(
                "The topic name provided does not match the EntityPath in "
                "the connection string used to construct the ServiceBusClient."
            )
        return self._sender(topic_name, topic=True)

    def _sender(self, name: str, *, topic: bool) -> StandInSender:
        sender = StandInSender(self, name, topic=topic)
        with self._lock:
            self._senders.append(sender)
        return sender

    def get_queue_receiver(self, *args: Any, **kwargs: Any) -> NoReturn:
        unsupported(
            "ServiceBusClient.get_queue_receiver",
            "Receive with a queue trigger, or in tests with devhost.servicebus.client."
            "receive_messages / `python -m devhost receive`.",
        )

    def get_subscription_receiver(self, *args: Any, **kwargs: Any) -> NoReturn:
        unsupported(
            "ServiceBusClient.get_subscription_receiver",
            "In tests use devhost.servicebus.client.receive_messages('<topic>/Subscriptions/"
            "<name>') or `python -m devhost receive`.",
        )

    def list_queue_sessions(self, *args: Any, **kwargs: Any) -> NoReturn:
        unsupported("ServiceBusClient.list_queue_sessions (sessions)")

    def list_subscription_sessions(self, *args: Any, **kwargs: Any) -> NoReturn:
        unsupported("ServiceBusClient.list_subscription_sessions (sessions)")


class StandInSender:
    """A queue or topic sender on the stand-in. Sends are synchronous storage writes."""

    def __init__(self, client: StandInServiceBusClient, entity_name: str, *, topic: bool) -> None:
        self._client = client
        self.entity_name = entity_name
        self.fully_qualified_namespace = client.fully_qualified_namespace
        self.client_identifier = f"devhost-{uuid.uuid4()}"
        self._topic = topic
        self._closed = False
        # What the last send_messages() call did to each message (duplicates are dropped).
        self.last_results: list[SendResult] = []

    def __enter__(self) -> StandInSender:
        if self._closed:
            raise ValueError(_CLOSED)
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True

    def send_messages(self, message: Any, *, timeout: float | None = None, **kwargs: Any) -> None:
        """Send one message, a list of them or a batch, to the stand-in queue or topic.

        Each message goes through the entity's semantics: duplicate detection (a duplicate is
        dropped silently, as Service Bus does), sequence number, time to live, schedule.
        Every message is checked before the first is sent; the sends themselves are one by
        one, not atomic as a batch is in Service Bus.
        """
        if self._closed:
            raise ValueError(_CLOSED)
        if timeout is not None and timeout <= 0:
            raise ValueError("The timeout must be greater than 0.")
        outgoing = [to_outgoing(m) for m in _messages(message)]
        if not outgoing:
            return
        try:
            entity = self._client.namespace().sender(self.entity_name, topic=self._topic)
            self.last_results = [entity.send(m) for m in outgoing]
        except (EntityNotFound, EntityNameError) as exc:
            raise MessagingEntityNotFoundError(message=f"devhost: {exc}") from exc
        except MessageTooLarge as exc:
            raise MessageSizeExceededError(message=f"devhost: {exc}") from exc
        except AzureError as exc:  # storage (Azurite) could not be reached or refused the write
            raise ServiceBusConnectionError(
                message=f"devhost's Service Bus stand-in could not reach its storage: {exc}"
            ) from exc

    def create_message_batch(self, max_size_in_bytes: int | None = None) -> ServiceBusMessageBatch:
        """An SDK batch (its size accounting), limited as on Service Bus Standard (256 KB)."""
        if self._closed:
            raise ValueError(_CLOSED)
        if max_size_in_bytes and max_size_in_bytes > MAX_BATCH_BYTES:
            raise ValueError(
                f"Max message size: {max_size_in_bytes} is too large, "
                f"acceptable max batch size is: {MAX_BATCH_BYTES} bytes."
            )
        return ServiceBusMessageBatch(max_size_in_bytes=max_size_in_bytes or MAX_BATCH_BYTES)

    def schedule_messages(self, *args: Any, **kwargs: Any) -> NoReturn:
        unsupported(
            "ServiceBusSender.schedule_messages",
            "Set scheduled_enqueue_time_utc on the ServiceBusMessage and use send_messages.",
        )

    def cancel_scheduled_messages(self, *args: Any, **kwargs: Any) -> NoReturn:
        unsupported("ServiceBusSender.cancel_scheduled_messages")


def _messages(message: Any) -> list[ServiceBusMessage]:
    if isinstance(message, ServiceBusMessageBatch):
        # The SDK keeps a batch's messages in `_messages` (azure-servicebus 7.x).
        return list(message._messages)
    if isinstance(message, (ServiceBusMessage, AmqpAnnotatedMessage, Mapping)):
        return [_one(message)]
    if isinstance(message, Iterable) and not isinstance(message, (str, bytes)):
        return [_one(m) for m in message]
    raise TypeError(
        "Only ServiceBusMessage, a list of them or a ServiceBusMessageBatch can be sent "
        f"(devhost's Service Bus stand-in), got {type(message).__name__}"
    )


def _one(message: Any) -> ServiceBusMessage:
    if isinstance(message, ServiceBusMessage):
        return message
    if isinstance(message, AmqpAnnotatedMessage):
        unsupported("sending AmqpAnnotatedMessage", "Send a ServiceBusMessage instead.")
    if isinstance(message, Mapping):
        return ServiceBusMessage(**message)  # as the SDK converts a dict
    raise TypeError(
        f"Only ServiceBusMessage objects can be sent (devhost's Service Bus stand-in), got "
        f"{type(message).__name__}"
    )


def _body(message: ServiceBusMessage) -> bytes:
    body = message.body
    if message.body_type == AmqpMessageBodyType.VALUE and body is None:
        return b""  # ServiceBusMessage(None)
    if message.body_type != AmqpMessageBodyType.DATA:
        unsupported(f"{message.body_type} message bodies", "Use a str or bytes body (AMQP data).")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return b"".join(bytes(part) for part in body)


def _properties(message: ServiceBusMessage) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for key, value in (message.application_properties or {}).items():
        name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        if not isinstance(value, _PROPERTY_TYPES):
            unsupported(
                f"application property '{name}' of type {type(value).__name__}",
                "It carries str, int, float, bool and None values.",
            )
        properties[name] = value
    return properties


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_outgoing(message: ServiceBusMessage) -> OutgoingMessage:
    """The stand-in's message for an SDK message; an id is generated if it has none."""
    return OutgoingMessage(
        body=_body(message),
        message_id=message.message_id or str(uuid.uuid4()),
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        subject=message.subject,
        to=message.to,
        session_id=message.session_id,
        reply_to_session_id=message.reply_to_session_id,
        partition_key=message.partition_key,
        application_properties=_properties(message),
        scheduled_enqueue_time=_utc(message.scheduled_enqueue_time_utc),
        time_to_live=message.time_to_live,
    )
