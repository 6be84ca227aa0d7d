"""Emulates Service Bus queue semantics on Azure Storage queues when no namespace is configured."""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from devhost.servicebus.declarations import QueueProperties
from devhost.servicebus.delivery import LockLost
from devhost.servicebus.envelope import Envelope, EnvelopeError
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.models import OutgoingMessage, ReceivedMessage, Resubmission, SendResult
from devhost.servicebus.names import QueuePath

# How each Service Bus behaviour maps onto storage (docs/devhost-triggers.md has the table):
# peek-lock = receive with visibility timeout lockDuration; DeliveryCount = dequeue count (less
# receives that only re-hid a scheduled message); complete = delete with the pop receipt;
# abandon = visible again at once; renew = update the visibility timeout; a stale pop receipt =
# lock lost; past maxDeliveryCount = moved to the dead-letter queue; TTL checked on receive;
# scheduled messages sent invisible until due (7-day steps); duplicate detection and sequence
# numbers in Table storage (ledger.py). Storage messages never expire themselves.
log = logging.getLogger("devhost.serviceBusTrigger")

MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"
EXPIRED_REASON = "TTLExpiredException"
EXPIRED_DESCRIPTION = "The message expired and was dead lettered."
INVALID_REASON = "DevhostEnvelopeInvalid"
# A storage queue message holds at most 64 KiB; visibility timeouts go up to 7 days.
MAX_ENVELOPE_BYTES = 64 * 1024
MAX_HIDE = timedelta(days=7)
_NEVER_EXPIRE = -1
_SCAN_VISIBILITY = 300
_BATCH = 32


class MessageTooLarge(ValueError):
    """The message does not fit the stand-in's storage queue message (64 KiB with envelope)."""


def max_delivery_description(max_delivery_count: int) -> str:
    return f"Message could not be consumed after {max_delivery_count} delivery attempts."


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _expiry(enqueued: datetime, ttl: timedelta) -> datetime:
    try:
        return enqueued + ttl
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


@dataclass
class Locked:
    """A received storage message and what it stands for."""

    storage_id: str
    pop_receipt: str
    envelope: Envelope
    delivery_count: int


class StandInQueue:
    """One Service Bus queue (or its dead-letter sub-queue) on storage queues. Blocking calls."""

    def __init__(
        self,
        queue_service: Any,
        ledger: Ledger,
        properties: QueueProperties,
        path: QueuePath,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.path = path
        self.properties = properties
        self._ledger = ledger
        self._clock = clock
        active = path.base
        dead = QueuePath(active.queue, True, active.subscription)
        self._active = queue_service.get_queue_client(active.storage_queue)
        self._dead = queue_service.get_queue_client(dead.storage_queue)
        self._source = self._dead if path.dead_letter else self._active
        self._created = False

    def ensure(self) -> None:
        if not self._created:
            for client in (self._active, self._dead):
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
            self._created = True

    # -- sending ------------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SendResult:
        """Send as Service Bus would: duplicate check, sequence number, schedule, TTL."""
        if self.path.dead_letter:
            raise ValueError("messages cannot be sent to a dead-letter sub-queue")
        if self.path.subscription is not None:
            raise ValueError(
                f"messages cannot be sent to subscription '{self.path}': send them to topic "
                f"'{self.path.queue}'"
            )
        self.ensure()
        props = self.properties
        now = self._clock()
        check_size(message)
        key = self._active.queue_name
        if props.requires_duplicate_detection:
            seen = self._ledger.first_sighting(
                key, message.message_id, now, props.duplicate_detection_window
            )
            if seen is not None:
                log_duplicate(self.path, message, seen)
                return SendResult(str(self.path), message.message_id, False, duplicate_of=seen)
        try:
            return self.enqueue(message, self._ledger.next_sequence_number(key), now)
        except BaseException:
            if props.requires_duplicate_detection:  # a retry of this failed send must go through
                self._ledger.forget(key, message.message_id, now)
            raise

    def enqueue(self, message: OutgoingMessage, sequence_number: int, now: datetime) -> SendResult:
        """Store an accepted message (no duplicate check): a queue's send, or a topic's copy."""
        self.ensure()
        scheduled = message.scheduled_enqueue_time
        enqueued = max(now, scheduled) if scheduled is not None else now
        ttl = self.properties.default_time_to_live
        if message.time_to_live is not None:
            ttl = min(ttl, message.time_to_live)
        envelope = Envelope(
            message=message,
            sequence_number=sequence_number,
            enqueued_time=enqueued,
            expires_at=_expiry(enqueued, ttl),
        )
        hide = (enqueued - now).total_seconds()
        self._active.send_message(
            envelope.to_json(),
            visibility_timeout=self._hide_seconds(hide),
            time_to_live=_NEVER_EXPIRE,
        )
        return SendResult(
            str(self.path),
            message.message_id,
            True,
            sequence_number=envelope.sequence_number,
            scheduled_enqueue_time=enqueued if scheduled is not None else None,
        )

    @staticmethod
    def _hide_seconds(seconds: float) -> int | None:
        if seconds <= 0:
            return None
        return min(math.ceil(seconds), int(MAX_HIDE.total_seconds()))

    # -- receiving ----------------------------------------------------------------------------

    def receive(self, max_count: int) -> list[Locked]:
        """Peek-lock up to `max_count` deliverable messages, applying expiry and max delivery."""
        self.ensure()
        lock = self.properties.lock_seconds
        found: list[Locked] = []
        count = max(1, min(max_count, _BATCH))
        for stored in self._source.receive_messages(
            messages_per_page=count, max_messages=count, visibility_timeout=lock
        ):
            try:
                envelope = Envelope.from_json(stored.content)
            except EnvelopeError as exc:
                if self.path.dead_letter:
                    log.error("Dead letter %s in '%s' is unreadable: %s", stored.id, self.path, exc)
                else:
                    self._quarantine(stored, str(exc))
                continue
            locked = Locked(
                stored.id,
                stored.pop_receipt,
                envelope,
                stored.dequeue_count - envelope.skipped_receives,
            )
            if self._still_scheduled(locked) or self._expired(locked):
                continue
            if not self.path.dead_letter and locked.delivery_count > self._max_deliveries:
                self._dead_letter(
                    locked,
                    MAX_DELIVERY_REASON,
                    max_delivery_description(self._max_deliveries),
                    deliveries=locked.delivery_count - 1,
                )
                continue
            found.append(locked)
        return found

    @property
    def _max_deliveries(self) -> int:
        return self.properties.max_delivery_count

    def _still_scheduled(self, locked: Locked) -> bool:
        scheduled = locked.envelope.message.scheduled_enqueue_time
        remaining = (scheduled - self._clock()).total_seconds() if scheduled else 0
        if remaining <= 0 or self.path.dead_letter:
            return False
        skipped = replace(locked.envelope, skipped_receives=locked.envelope.skipped_receives + 1)
        self._source.update_message(
            locked.storage_id,
            pop_receipt=locked.pop_receipt,
            visibility_timeout=self._hide_seconds(remaining),
            content=skipped.to_json(),
        )
        return True

    def _expired(self, locked: Locked) -> bool:
        if self.path.dead_letter or locked.envelope.expires_at > self._clock():
            return False
        if self.properties.dead_lettering_on_expiration:
            self._dead_letter(
                locked, EXPIRED_REASON, EXPIRED_DESCRIPTION, deliveries=locked.delivery_count - 1
            )
        else:
            log.info(
                "%s '%s': message '%s' expired at %s and was dropped "
                "(deadLetteringOnMessageExpiration is false)",
                self.path.kind.capitalize(),
                self.path,
                locked.envelope.message.message_id,
                locked.envelope.expires_at.isoformat(),
            )
            self._delete(locked)
        return True

    def _dead_letter(self, locked: Locked, reason: str, description: str, deliveries: int) -> None:
        moved = locked.envelope.dead_lettered(reason, description, self._clock(), deliveries)
        self._dead.send_message(moved.to_json(), time_to_live=_NEVER_EXPIRE)
        self._delete(locked)
        log.warning(
            "%s '%s': message '%s' moved to the dead-letter queue: %s (%s)",
            self.path.kind.capitalize(),
            self.path,
            locked.envelope.message.message_id,
            reason,
            description,
        )

    def _quarantine(self, stored: Any, problem: str) -> None:
        """A storage message that is not an envelope: keep its text in the dead-letter queue."""
        text = stored.content if isinstance(stored.content, str) else str(stored.content)
        now = self._clock()
        envelope = Envelope(
            message=OutgoingMessage(body=text.encode("utf-8"), message_id=stored.id),
            sequence_number=0,
            enqueued_time=stored.inserted_on or now,
            expires_at=datetime.max.replace(tzinfo=UTC),
        ).dead_lettered(INVALID_REASON, problem, now, stored.dequeue_count)
        self._dead.send_message(envelope.to_json(), time_to_live=_NEVER_EXPIRE)
        with contextlib.suppress(ResourceNotFoundError):
            self._source.delete_message(stored.id, stored.pop_receipt)
        log.error(
            "%s '%s': storage message %s is not a devhost Service Bus message (%s); "
            "moved to the dead-letter queue",
            self.path.kind.capitalize(),
            self.path,
            stored.id,
            problem,
        )

    # -- settling -----------------------------------------------------------------------------

    def _delete(self, locked: Locked) -> None:
        try:
            self._source.delete_message(locked.storage_id, locked.pop_receipt)
        except (ResourceNotFoundError, HttpResponseError) as exc:
            raise LockLost(f"message '{locked.envelope.message.message_id}': {exc}") from exc

    def complete(self, locked: Locked) -> None:
        self._delete(locked)

    def abandon(self, locked: Locked) -> None:
        """Visible again at once, or dead-lettered if that was its last delivery."""
        if not self.path.dead_letter and locked.delivery_count >= self._max_deliveries:
            self._dead_letter(
                locked,
                MAX_DELIVERY_REASON,
                max_delivery_description(self._max_deliveries),
                deliveries=locked.delivery_count,
            )
            return
        self._update(locked, 0)

    def renew(self, locked: Locked) -> None:
        self._update(locked, self.properties.lock_seconds)

    def _update(self, locked: Locked, visibility: int) -> None:
        try:
            updated = self._source.update_message(
                locked.storage_id, pop_receipt=locked.pop_receipt, visibility_timeout=visibility
            )
        except (ResourceNotFoundError, HttpResponseError) as exc:
            raise LockLost(f"message '{locked.envelope.message.message_id}': {exc}") from exc
        locked.pop_receipt = updated.pop_receipt

    def peek(self, max_count: int = _BATCH) -> list[ReceivedMessage]:
        """Up to 32 visible messages of this queue (or sub-queue), left where they are."""
        self.ensure()
        peeked = []
        for stored in self._source.peek_messages(max_messages=min(max_count, _BATCH)):
            try:
                envelope = Envelope.from_json(stored.content)
            except EnvelopeError:
                continue  # the next receive quarantines it
            count = stored.dequeue_count - envelope.skipped_receives
            peeked.append(envelope.received(count, lock_token=""))
        return peeked

    # -- the dead-letter sub-queue ------------------------------------------------------------

    def peek_dead_letters(self, max_count: int = _BATCH) -> tuple[list[Envelope], int]:
        """Up to 32 dead letters (a storage queue peeks at most 32) and the approximate total."""
        self.ensure()
        peeked = []
        for stored in self._dead.peek_messages(max_messages=min(max_count, _BATCH)):
            try:
                peeked.append(Envelope.from_json(stored.content))
            except EnvelopeError as exc:
                log.warning("Dead letter %s is unreadable: %s", stored.id, exc)
        total = self._dead.get_queue_properties().approximate_message_count
        return peeked, int(total or 0)

    def resubmit(self, message_id: str | None) -> list[Resubmission]:
        """Send dead letters back to the queue (all, or those with `message_id`).

        A resubmission keeps the message id, correlation id and application properties, so
        inside the queue's duplicate detection window Service Bus drops it; then the dead
        letter stays where it is and the result says so.
        """
        self.ensure()
        done: list[Resubmission] = []
        passed_over: list[Any] = []
        while True:
            batch = list(
                self._dead.receive_messages(
                    messages_per_page=_BATCH,
                    max_messages=_BATCH,
                    visibility_timeout=_SCAN_VISIBILITY,
                )
            )
            if not batch:
                break
            for stored in batch:
                try:
                    envelope = Envelope.from_json(stored.content)
                except EnvelopeError:
                    passed_over.append(stored)
                    continue
                if message_id is not None and envelope.message.message_id != message_id:
                    passed_over.append(stored)
                    continue
                result = self.send(envelope.resubmission())
                done.append(Resubmission(envelope.as_dead_letter(), result))
                if result.accepted:
                    self._dead.delete_message(stored.id, stored.pop_receipt)
                else:
                    passed_over.append(stored)
        for stored in passed_over:
            with contextlib.suppress(ResourceNotFoundError):
                self._dead.update_message(
                    stored.id, pop_receipt=stored.pop_receipt, visibility_timeout=0
                )
        return done


def check_size(message: OutgoingMessage) -> None:
    """MessageTooLarge unless the message fits a storage queue message with its envelope.

    Checked before anything is recorded, so a refused message leaves no duplicate history, and
    with the widest envelope it can get (dead-lettered), so it can always be dead-lettered.
    """
    latest = datetime.max.replace(tzinfo=UTC)
    widest = Envelope(
        message=message,
        sequence_number=2**63 - 1,
        enqueued_time=latest,
        expires_at=latest,
        skipped_receives=2**31 - 1,
    ).dead_lettered(MAX_DELIVERY_REASON, max_delivery_description(2**31 - 1), latest, 2**31 - 1)
    if len(widest.to_json().encode("utf-8")) > MAX_ENVELOPE_BYTES:
        raise MessageTooLarge(
            f"message '{message.message_id}' is {len(message.body)} bytes; the local "
            "stand-in holds bodies up to about 47 KiB (a storage queue message is 64 KiB "
            "with its envelope). Service Bus Standard takes 256 KB: send a reference "
            "(claim check) instead of the payload."
        )


def log_duplicate(entity: object, message: OutgoingMessage, seen: datetime) -> None:
    log.info(
        "'%s' dropped message '%s': a message with that id was sent at %s, within the "
        "duplicate detection window",
        entity,
        message.message_id,
        seen.isoformat(),
    )


def new_lock_token() -> str:
    return str(uuid.uuid4())
