"""Sends the app's own Service Bus messages (replies, topic events) with CorrelationId and ids.

The Python output binding sets a message's body only, so this uses the azure-servicebus SDK
(a managed identity in Azure, the emulator's connection string locally). MessageIds are stable
per update, so a retried send is dropped by the entity's duplicate detection.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusError,
)

from app_config import ServiceBusSettings
from domain.failures import PermanentFailure, TransientFailure

logger = logging.getLogger(__name__)

JSON = "application/json"


@dataclass(frozen=True)
class Outgoing:
    """One message to send: a JSON body and the broker properties consumers route and dedupe on."""

    body: Mapping[str, Any]
    message_id: str
    correlation_id: str | None = None
    subject: str | None = None
    properties: Mapping[str, str | int | bool] = field(default_factory=dict)


def _client(settings: ServiceBusSettings) -> ServiceBusClient:
    if settings.connection_string is not None:
        return ServiceBusClient.from_connection_string(settings.connection_string)
    # Imported here so that local runs on a connection string skip its cost.
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=settings.client_id)
    return ServiceBusClient(settings.fully_qualified_namespace or "", credential=credential)


class ServiceBusPublisher:
    """Queue and topic sends over one client, created on first use and kept for the process."""

    def __init__(
        self,
        settings: ServiceBusSettings,
        client_factory: Callable[[ServiceBusSettings], ServiceBusClient] = _client,
    ) -> None:
        self._settings = settings
        self._factory = client_factory
        self._client: ServiceBusClient | None = None
        self._lock = threading.Lock()

    def send_to_queue(self, queue: str, message: Outgoing) -> None:
        self._send(queue, message, topic=False)

    def publish_to_topic(self, topic: str, message: Outgoing) -> None:
        self._send(topic, message, topic=True)

    def _send(self, entity: str, message: Outgoing, *, topic: bool) -> None:
        sb_message = ServiceBusMessage(
            json.dumps(dict(message.body), separators=(",", ":")),
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            subject=message.subject,
            content_type=JSON,
            application_properties=dict(message.properties),
        )
        try:
            client = self._shared_client()
            sender = (
                client.get_topic_sender(topic_name=entity)
                if topic
                else client.get_queue_sender(queue_name=entity)
            )
            with sender:
                sender.send_messages(sb_message)
        except (
            MessagingEntityNotFoundError,
            MessagingEntityDisabledError,
            MessageSizeExceededError,
            ServiceBusAuthorizationError,
            ServiceBusAuthenticationError,
        ) as error:
            # Retrying cannot create the entity, shrink the message or grant a role.
            raise PermanentFailure(f"cannot send to {entity}: {type(error).__name__}") from error
        except ServiceBusError as error:
            raise TransientFailure(f"sending to {entity} failed: {type(error).__name__}") from error
        logger.info(
            "Sent %s to %s [correlation %s]",
            message.message_id,
            entity,
            message.correlation_id or "-",
        )

    def _shared_client(self) -> ServiceBusClient:
        with self._lock:
            if self._client is None:
                self._client = self._factory(self._settings)
            return self._client
