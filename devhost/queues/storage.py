"""Blocking calls on one storage queue, with the message text exactly as stored.

The SDK's clients are created without an encode or decode policy: devhost applies the host's
messageEncoding itself, so that a message that is not valid Base64 can be recognised and moved,
as it is, to the poison queue.
"""

from __future__ import annotations

import contextlib
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from devhost.queues.message import Received


class StorageQueue:
    def __init__(self, service: Any, name: str) -> None:
        self.name = name
        self.client = service.get_queue_client(name)

    def exists(self) -> bool:
        try:
            self.client.get_queue_properties()
        except ResourceNotFoundError:
            return False
        return True

    def create(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def receive(self, count: int, visibility_seconds: int) -> list[Received]:
        pages = self.client.receive_messages(
            max_messages=count, messages_per_page=count, visibility_timeout=visibility_seconds
        )
        return [Received.from_sdk(m) for m in pages]

    def set_visibility(self, message: Received, seconds: int) -> None:
        updated = self.client.update_message(
            message.message_id, pop_receipt=message.pop_receipt, visibility_timeout=seconds
        )
        message.pop_receipt = updated.pop_receipt
        message.next_visible_on = updated.next_visible_on

    def delete(self, message: Received) -> None:
        self.client.delete_message(message.message_id, message.pop_receipt)

    def send_creating(self, text: str) -> Any:
        """Send, creating the queue first if it is missing (AddMessageAndCreateIfNotExists)."""
        try:
            return self.client.send_message(text)
        except ResourceNotFoundError:
            self.create()
            return self.client.send_message(text)
