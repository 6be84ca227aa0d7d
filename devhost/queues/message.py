"""Queue message bodies (host.json messageEncoding) and what the host hands the worker for one.

The body: the extension binds a Python queue trigger to the message text, so the worker gets a
string (UTF-8; invalid bytes become U+FFFD) that `func.QueueMessage.get_body()` re-encodes; with
`data_type=func.DataType.BINARY` it gets the bytes unchanged. The binding data is
QueueTriggerBinding.CreateBindingData's: QueueTrigger, DequeueCount, ExpirationTime, Id,
InsertionTime, NextVisibleTime and PopReceipt, plus the WebJobs SDK's `sys`. The host sends
strings as strings and everything else as Newtonsoft JSON (a long as `2`, a DateTimeOffset as
`"2024-05-01T12:00:00+00:00"`), which the worker's converter parses into the QueueMessage.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta

from devhost.queues.options import BASE64

# .NET's Convert.FromBase64String skips these between the Base64 characters.
_BASE64_WHITESPACE = str.maketrans("", "", " \t\r\n")
MAX_MESSAGE_BYTES = 64 * 1024  # a storage queue message, as sent (after encoding)


class InvalidEncoding(ValueError):
    """A message whose text is not valid for the configured messageEncoding."""


@dataclass
class Received:
    """One received message; `pop_receipt` follows every visibility update."""

    message_id: str
    pop_receipt: str
    dequeue_count: int
    content: str  # the message text as stored (Base64 text with the default encoding)
    inserted_on: datetime | None
    expires_on: datetime | None
    next_visible_on: datetime | None

    @classmethod
    def from_sdk(cls, message: Any) -> Received:
        return cls(
            message_id=str(message.id),
            pop_receipt=str(message.pop_receipt),
            dequeue_count=int(message.dequeue_count or 1),
            content="" if message.content is None else str(message.content),
            inserted_on=message.inserted_on,
            expires_on=message.expires_on,
            next_visible_on=message.next_visible_on,
        )


def decode_body(content: str, encoding: str) -> bytes:
    """The message body from its stored text; InvalidEncoding when it is not valid Base64."""
    if encoding != BASE64:
        return content.encode("utf-8")
    try:
        return base64.b64decode(content.translate(_BASE64_WHITESPACE), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEncoding(f"the message text is not valid Base64 ({exc})") from None


def encode_body(body: bytes, encoding: str) -> str:
    """The text to store for `body`, as the host writes it (Base64 unless encoding is none)."""
    if encoding == BASE64:
        return base64.b64encode(body).decode("ascii")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEncoding(
            'with host.json messageEncoding "none" a message body must be UTF-8 text'
        ) from None


def dotnet_offset(moment: datetime) -> str:
    """A DateTimeOffset in UTC as Newtonsoft writes it: ISO 8601, trailing zeros trimmed."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return text + (f".{fraction}" if fraction else "") + "+00:00"


def _json(value: Any) -> meta.Datum:
    return meta.Datum(json.dumps(value), "json")


def trigger_data(body: bytes, *, binary: bool) -> meta.Datum:
    """The trigger value: bytes with dataType binary, otherwise the UTF-8 text."""
    if binary:
        return meta.Datum(body, "bytes")
    return meta.Datum(body.decode("utf-8", errors="replace"), "string")


def trigger_metadata(
    message: Received, body: bytes, function_name: str, now: datetime | None = None
) -> dict[str, meta.Datum]:
    """The binding data the host sends with each queue trigger invocation."""
    now = now or datetime.now(UTC)
    # Where storage gave no time the extension substitutes MaxValue (expiry, next visible)
    # or UtcNow (insertion).
    never = "9999-12-31T23:59:59.9999999+00:00"
    return {
        "QueueTrigger": meta.Datum(body.decode("utf-8", errors="replace"), "string"),
        "DequeueCount": _json(message.dequeue_count),
        "ExpirationTime": _json(dotnet_offset(message.expires_on) if message.expires_on else never),
        "Id": meta.Datum(message.message_id, "string"),
        "InsertionTime": _json(dotnet_offset(message.inserted_on or now)),
        "NextVisibleTime": _json(
            dotnet_offset(message.next_visible_on) if message.next_visible_on else never
        ),
        "PopReceipt": meta.Datum(message.pop_receipt, "string"),
        "sys": _json(
            {
                "MethodName": function_name,
                "UtcNow": dotnet_offset(now).removesuffix("+00:00") + "Z",
                "RandGuid": str(uuid.uuid4()),
            }
        ),
    }
