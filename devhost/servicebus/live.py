"""Receives from a real Service Bus namespace with azure-servicebus (unverified against one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devhost.connections import ServiceBusConnection
from devhost.servicebus.delivery import Delivery, LockLost, Receiver
from devhost.servicebus.models import ReceivedMessage
from devhost.servicebus.names import QueuePath

# Peek-lock receive, complete, abandon, and an AutoLockRenewer bounded by
# maxAutoLockRenewalDuration, as the host's Service Bus extension does. No namespace can be
# reached where devhost is tested: the tests use a fake at the azure-servicebus client boundary,
# passed in through `client_factory` and `renewer_factory`.
_MAX_WAIT_SECONDS = 1.0

ClientFactory = Callable[[ServiceBusConnection], Any]
RenewerFactory = Callable[[], Any]


class _AsyncCredential:
    """azure-identity's sync credential behind the async interface the aio client calls."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._credential.get_token, *scopes, **kwargs)

    async def close(self) -> None:
        close = getattr(self._credential, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


def default_client_factory(connection: ServiceBusConnection) -> Any:
    from azure.servicebus.aio import ServiceBusClient

    if connection.connection_string:
        return ServiceBusClient.from_connection_string(connection.connection_string)
    return ServiceBusClient(
        str(connection.fully_qualified_namespace), _AsyncCredential(connection.credential)
    )


def default_renewer_factory() -> Any:
    from azure.servicebus.aio import AutoLockRenewer

    return AutoLockRenewer()


def _text(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _body(message: Any) -> bytes:
    body = message.body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    try:
        return b"".join(bytes(part) for part in body)
    except TypeError:
        return str(body).encode("utf-8")


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def convert(message: Any) -> ReceivedMessage:
    """An azure-servicebus ServiceBusReceivedMessage as the trigger's message."""
    properties = {
        _text(k): _text(v)
        for k, v in (getattr(message, "application_properties", None) or {}).items()
    }
    return ReceivedMessage(
        body=_body(message),
        message_id=str(message.message_id),
        delivery_count=int(message.delivery_count or 0),
        sequence_number=int(message.sequence_number or 0),
        enqueued_time=_utc(message.enqueued_time_utc),
        expires_at=_utc(message.expires_at_utc),
        lock_token=str(message.lock_token),
        application_properties=properties,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        subject=message.subject,
        to=message.to,
        session_id=message.session_id,
        reply_to_session_id=message.reply_to_session_id,
        partition_key=message.partition_key,
        dead_letter_source=message.dead_letter_source,
    )


class LiveDelivery(Delivery):
    def __init__(self, owner: LiveReceiver, raw: Any) -> None:
        self._owner = owner
        self._raw = raw
        self.message = convert(raw)

    def keep_locked(self, max_duration: float) -> None:
        self._owner.renewer.register(
            self._owner.receiver, self._raw, max_lock_renewal_duration=max_duration
        )

    async def complete(self) -> None:
        await self._settle(self._owner.receiver.complete_message)

    async def abandon(self) -> None:
        await self._settle(self._owner.receiver.abandon_message)

    async def release(self) -> None:
        return None  # the renewer stops at its limit; the lock then lapses

    async def _settle(self, action: Callable[[Any], Any]) -> None:
        from azure.servicebus.exceptions import MessageAlreadySettled, MessageLockLostError

        try:
            await action(self._raw)
        except (MessageLockLostError, MessageAlreadySettled) as exc:
            raise LockLost(f"message '{self.message.message_id}': {exc}") from exc


class LiveReceiver(Receiver):
    """One queue's or subscription's peek-lock receiver on a namespace; open() first."""

    def __init__(
        self,
        connection: ServiceBusConnection,
        path: QueuePath,
        client_factory: ClientFactory = default_client_factory,
        renewer_factory: RenewerFactory = default_renewer_factory,
    ) -> None:
        self._connection = connection
        self._path = path
        self._client_factory = client_factory
        self._renewer_factory = renewer_factory
        self.client: Any = None
        self.receiver: Any = None
        self.renewer: Any = None
        where = connection.fully_qualified_namespace or "the namespace in its connection string"
        self.description = f"Service Bus {where} (connection '{connection.name}')"

    async def open(self) -> None:
        from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

        self.client = self._client_factory(self._connection)
        options: dict[str, Any] = {
            "sub_queue": ServiceBusSubQueue.DEAD_LETTER if self._path.dead_letter else None,
            "receive_mode": ServiceBusReceiveMode.PEEK_LOCK,
            "prefetch_count": 0,
        }
        if self._path.subscription is not None:
            self.receiver = self.client.get_subscription_receiver(
                self._path.queue, self._path.subscription, **options
            )
        else:
            self.receiver = self.client.get_queue_receiver(self._path.queue, **options)
        self.renewer = self._renewer_factory()

    async def receive(self, max_count: int) -> list[Delivery]:
        messages = await self.receiver.receive_messages(
            max_message_count=max_count, max_wait_time=_MAX_WAIT_SECONDS
        )
        return [LiveDelivery(self, raw) for raw in messages]

    async def close(self) -> None:
        for closeable in (self.renewer, self.receiver, self.client):
            if closeable is not None:
                await closeable.close()
