"""The JSON envelope that carries one Service Bus message in a stand-in storage queue."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

from devhost.servicebus.models import DeadLetter, OutgoingMessage, ReceivedMessage

ENVELOPE_VERSION = 1
DEAD_LETTER_REASON = "DeadLetterReason"
DEAD_LETTER_DESCRIPTION = "DeadLetterErrorDescription"


class EnvelopeError(ValueError):
    """A storage queue message that is not a devhost Service Bus envelope."""


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Envelope:
    """A message at rest in the stand-in: everything Service Bus keeps about it."""

    message: OutgoingMessage
    sequence_number: int
    enqueued_time: datetime
    expires_at: datetime
    # Receives that only re-hid a scheduled message; they are not deliveries.
    skipped_receives: int = 0
    dead_lettered_at: datetime | None = None
    # Deliveries the message had when it was dead-lettered.
    deliveries: int | None = None

    def dead_lettered(
        self, reason: str, description: str, when: datetime, deliveries: int
    ) -> Envelope:
        """A copy for the dead-letter sub-queue; reason and description become properties."""
        properties = dict(self.message.application_properties)
        properties[DEAD_LETTER_REASON] = reason
        properties[DEAD_LETTER_DESCRIPTION] = description
        return replace(
            self,
            message=replace(self.message, application_properties=properties),
            skipped_receives=0,
            dead_lettered_at=when,
            deliveries=deliveries,
        )

    @property
    def dead_letter_reason(self) -> str | None:
        return self.message.application_properties.get(DEAD_LETTER_REASON)

    @property
    def dead_letter_description(self) -> str | None:
        return self.message.application_properties.get(DEAD_LETTER_DESCRIPTION)

    def received(self, delivery_count: int, lock_token: str) -> ReceivedMessage:
        m = self.message
        return ReceivedMessage(
            body=m.body,
            message_id=m.message_id,
            delivery_count=delivery_count,
            sequence_number=self.sequence_number,
            enqueued_time=self.enqueued_time,
            expires_at=self.expires_at,
            lock_token=lock_token,
            application_properties=dict(m.application_properties),
            content_type=m.content_type,
            correlation_id=m.correlation_id,
            reply_to=m.reply_to,
            subject=m.subject,
            to=m.to,
            session_id=m.session_id,
            reply_to_session_id=m.reply_to_session_id,
            partition_key=m.partition_key,
        )

    def as_dead_letter(self) -> DeadLetter:
        m = self.message
        return DeadLetter(
            message_id=m.message_id,
            sequence_number=self.sequence_number,
            enqueued_time=self.enqueued_time,
            reason=self.dead_letter_reason,
            description=self.dead_letter_description,
            body=m.body,
            correlation_id=m.correlation_id,
            content_type=m.content_type,
            application_properties=dict(m.application_properties),
            dead_lettered_at=self.dead_lettered_at,
            delivery_count=self.deliveries,
        )

    def resubmission(self) -> OutgoingMessage:
        """The message to send back: same id, correlation id, properties (less the reason)."""
        properties = {
            k: v
            for k, v in self.message.application_properties.items()
            if k not in (DEAD_LETTER_REASON, DEAD_LETTER_DESCRIPTION)
        }
        return replace(self.message, application_properties=properties, scheduled_enqueue_time=None)

    def to_json(self) -> str:
        m = asdict(self.message)
        m["body"] = base64.b64encode(self.message.body).decode("ascii")
        m["scheduled_enqueue_time"] = _iso(self.message.scheduled_enqueue_time)
        ttl = self.message.time_to_live
        m["time_to_live"] = ttl.total_seconds() if ttl is not None else None
        return json.dumps(
            {
                "devhostServiceBus": ENVELOPE_VERSION,
                "message": m,
                "sequence_number": self.sequence_number,
                "enqueued_time": _iso(self.enqueued_time),
                "expires_at": _iso(self.expires_at),
                "skipped_receives": self.skipped_receives,
                "dead_lettered_at": _iso(self.dead_lettered_at),
                "deliveries": self.deliveries,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        try:
            raw = json.loads(text)
            if raw.get("devhostServiceBus") != ENVELOPE_VERSION:
                raise EnvelopeError("not a devhost Service Bus envelope (version mismatch)")
            m = dict(raw["message"])
            m["body"] = base64.b64decode(m["body"], validate=True)
            m["scheduled_enqueue_time"] = _moment(m.get("scheduled_enqueue_time"))
            ttl = m.get("time_to_live")
            m["time_to_live"] = timedelta(seconds=ttl) if ttl is not None else None
            expires = _moment(raw["expires_at"])
            enqueued = _moment(raw["enqueued_time"])
            if expires is None or enqueued is None:
                raise EnvelopeError("envelope without enqueued or expiry time")
            return cls(
                message=OutgoingMessage(**m),
                sequence_number=int(raw["sequence_number"]),
                enqueued_time=enqueued,
                expires_at=expires,
                skipped_receives=int(raw.get("skipped_receives", 0)),
                dead_lettered_at=_moment(raw.get("dead_lettered_at")),
                deliveries=raw.get("deliveries"),
            )
        except EnvelopeError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EnvelopeError(f"not a devhost Service Bus envelope: {exc}") from exc
