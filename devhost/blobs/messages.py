"""The extension's blob trigger queue message and the host queues that carry it (Base64 text)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError

HOST_QUEUE_PREFIX = "azure-webjobs-blobtrigger-"
POISON_QUEUE = "webjobs-blobtrigger-poison"
_BLOB_TYPES = {"block": "BlockBlob", "page": "PageBlob", "append": "AppendBlob"}


class InvalidMessage(ValueError):
    """A queue message that is not a blob trigger message."""


def blob_type_name(value: str) -> str:
    """`BlockBlob`, `PageBlob` or `AppendBlob`, from either spelling (`Block` or `BlockBlob`)."""
    key = str(value).lower().replace("blob", "")
    if key not in _BLOB_TYPES:
        raise InvalidMessage(f"unknown blob type '{value}'")
    return _BLOB_TYPES[key]


def quoted_etag(etag: str) -> str:
    """ETags as the extension compares them: with their double quotes."""
    return etag if etag.startswith('"') else f'"{etag}"'


@dataclass(frozen=True)
class BlobTriggerMessage:
    """What the extension queues for each blob to process: function, blob and its version."""

    function_id: str | None
    blob_type: str
    container: str
    blob: str
    etag: str

    def to_json(self) -> str:
        # Newtonsoft's order and compact form, with the constant "Type" first.
        body = {
            "Type": "BlobTrigger",
            "FunctionId": self.function_id,
            "BlobType": self.blob_type,
            "ContainerName": self.container,
            "BlobName": self.blob,
            "ETag": self.etag,
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> BlobTriggerMessage:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise InvalidMessage(f"Invalid blob trigger message: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidMessage("Invalid blob trigger message.")
        for key in ("ContainerName", "BlobName"):
            if not isinstance(body.get(key), str):
                raise InvalidMessage(f"Invalid blob trigger message: no {key}.")
        function_id = body.get("FunctionId")
        return cls(
            function_id=function_id if isinstance(function_id, str) else None,
            blob_type=blob_type_name(body.get("BlobType") or "BlockBlob"),
            container=body["ContainerName"],
            blob=body["BlobName"],
            etag=str(body.get("ETag") or ""),
        )


def encode(text: str) -> str:
    """Queue message text as the host writes it (QueueMessageEncoding.Base64)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode(content: str) -> str:
    try:
        return base64.b64decode(content, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidMessage(f"queue message is not Base64-encoded UTF-8 text: {exc}") from None


def host_queue_name(host_id: str) -> str:
    """`azure-webjobs-blobtrigger-<host id>`, kept to the queue naming rules."""
    name = re.sub(r"-{2,}", "-", (HOST_QUEUE_PREFIX + host_id).lower())
    return name[:63].rstrip("-")


@dataclass
class Received:
    """One received message: its id, latest pop receipt, dequeue count and decoded-or-raw text."""

    message_id: str
    pop_receipt: str
    dequeue_count: int
    content: str


class HostQueue:
    """A storage queue accessed with the host's Base64 encoding (blocking calls)."""

    def __init__(self, queue_client: Any) -> None:
        self.client = queue_client
        self.name: str = queue_client.queue_name

    def ensure(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def send(self, text: str) -> None:
        self.client.send_message(encode(text))

    def put(self, message: BlobTriggerMessage) -> None:
        self.send(message.to_json())

    def send_creating(self, text: str) -> None:
        """Send, creating the queue first if it does not exist (AddMessageAndCreateIfNotExists)."""
        self.ensure()
        self.send(text)

    def receive(self, count: int, visibility: int) -> list[Received]:
        pages = self.client.receive_messages(
            max_messages=count, messages_per_page=count, visibility_timeout=visibility
        )
        return [Received(m.id, m.pop_receipt, int(m.dequeue_count or 1), m.content) for m in pages]

    def set_visibility(self, message: Received, seconds: int) -> None:
        updated = self.client.update_message(
            message.message_id, pop_receipt=message.pop_receipt, visibility_timeout=seconds
        )
        message.pop_receipt = updated.pop_receipt

    def delete(self, message: Received) -> None:
        self.client.delete_message(message.message_id, message.pop_receipt)

    def peek_texts(self, count: int = 32) -> list[str]:
        return [decode(m.content) for m in self.client.peek_messages(max_messages=count)]
