"""The message shapes shared by the stand-in, the real-namespace path, the trigger and the CLI."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class OutgoingMessage:
    """What a sender sets on a Service Bus message."""

    body: bytes
    message_id: str
    content_type: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    subject: str | None = None
    to: str | None = None
    session_id: str | None = None
    reply_to_session_id: str | None = None
    partition_key: str | None = None
    application_properties: dict[str, Any] = field(default_factory=dict)
    scheduled_enqueue_time: datetime | None = None
    time_to_live: timedelta | None = None


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as a receiver hands it to a function, from the stand-in or a namespace."""

    body: bytes
    message_id: str
    delivery_count: int
    sequence_number: int
    enqueued_time: datetime
    expires_at: datetime
    lock_token: str
    application_properties: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    subject: str | None = None
    to: str | None = None
    session_id: str | None = None
    reply_to_session_id: str | None = None
    partition_key: str | None = None
    transaction_partition_key: str | None = None
    dead_letter_source: str | None = None

    def describe(self) -> dict[str, Any]:
        """As the `receive` command prints it (no lock token: what it prints is not locked)."""
        shown: dict[str, Any] = {
            "messageId": self.message_id,
            "sequenceNumber": self.sequence_number,
            "deliveryCount": self.delivery_count,
            "enqueuedTimeUtc": self.enqueued_time.isoformat(),
            "expiresAtUtc": self.expires_at.isoformat(),
        }
        optional = {
            "correlationId": self.correlation_id,
            "contentType": self.content_type,
            "subject": self.subject,
            "replyTo": self.reply_to,
            "to": self.to,
            "sessionId": self.session_id,
            "replyToSessionId": self.reply_to_session_id,
            "partitionKey": self.partition_key,
            "deadLetterSource": self.dead_letter_source,
        }
        shown.update({k: v for k, v in optional.items() if v is not None})
        shown["applicationProperties"] = self.application_properties
        shown["body"] = _shown_body(self.body)
        return shown


def _shown_body(body: bytes) -> Any:
    """UTF-8 text as it is; other bytes as {"base64": ...}."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


@dataclass(frozen=True)
class SendResult:
    """What happened to one send: accepted, or dropped as a duplicate inside the window."""

    queue: str
    message_id: str
    accepted: bool
    sequence_number: int | None = None
    scheduled_enqueue_time: datetime | None = None
    duplicate_of: datetime | None = None

    def describe(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "queue": self.queue,
            "messageId": self.message_id,
            "accepted": self.accepted,
        }
        if self.sequence_number is not None:
            shown["sequenceNumber"] = self.sequence_number
        if self.scheduled_enqueue_time is not None:
            shown["scheduledEnqueueTimeUtc"] = self.scheduled_enqueue_time.isoformat()
        if self.duplicate_of is not None:
            shown["droppedAsDuplicateOfSendAt"] = self.duplicate_of.isoformat()
        return shown


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter sub-queue, as the `dead-letters` command shows it."""

    message_id: str
    sequence_number: int
    enqueued_time: datetime
    reason: str | None
    description: str | None
    body: bytes
    correlation_id: str | None = None
    content_type: str | None = None
    application_properties: dict[str, Any] = field(default_factory=dict)
    dead_lettered_at: datetime | None = None
    delivery_count: int | None = None

    def describe(self) -> dict[str, Any]:
        body = _shown_body(self.body)
        return {
            "messageId": self.message_id,
            "sequenceNumber": self.sequence_number,
            "correlationId": self.correlation_id,
            "contentType": self.content_type,
            "enqueuedTimeUtc": self.enqueued_time.isoformat(),
            "deadLetteredAtUtc": (
                self.dead_lettered_at.isoformat() if self.dead_lettered_at else None
            ),
            "deadLetterReason": self.reason,
            "deadLetterErrorDescription": self.description,
            "deliveryCount": self.delivery_count,
            "applicationProperties": self.application_properties,
            "body": body,
        }


@dataclass(frozen=True)
class Resubmission:
    """One dead letter sent back to its queue (or left where it was, when the send was dropped)."""

    dead_letter: DeadLetter
    result: SendResult

    def describe(self) -> dict[str, Any]:
        return {
            "messageId": self.dead_letter.message_id,
            "resubmitted": self.result.accepted,
            "removedFromDeadLetters": self.result.accepted,
            **{k: v for k, v in self.result.describe().items() if k not in ("messageId",)},
        }
