"""Emulates a Service Bus topic on the stand-in: one copy of each message per subscription."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devhost.servicebus.declarations import TopicProperties
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.models import OutgoingMessage, SendResult
from devhost.servicebus.names import QueuePath, topic_ledger_name
from devhost.servicebus.standin import StandInQueue, check_size, log_duplicate


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StandInTopic:
    """A topic: duplicate detection and sequence numbers here, messages in its subscriptions.

    As in Service Bus, a duplicate is dropped once for the whole topic, and every copy carries
    the one sequence number the topic gave the message. Subscription rules are not evaluated:
    each subscription receives every message. A topic without subscriptions accepts messages
    and keeps none.
    """

    def __init__(
        self,
        queue_service: Any,
        ledger: Ledger,
        properties: TopicProperties,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.properties = properties
        self._ledger = ledger
        self._clock = clock
        self._key = topic_ledger_name(properties.name)
        self.subscriptions = [
            StandInQueue(
                queue_service,
                ledger,
                properties.queue_properties(subscription),
                QueuePath(properties.name, subscription=subscription.name),
                clock,
            )
            for subscription in properties.subscriptions.values()
        ]

    def send(self, message: OutgoingMessage) -> SendResult:
        props = self.properties
        now = self._clock()
        check_size(message)
        if props.requires_duplicate_detection:
            seen = self._ledger.first_sighting(
                self._key, message.message_id, now, props.duplicate_detection_window
            )
            if seen is not None:
                log_duplicate(props.name, message, seen)
                return SendResult(props.name, message.message_id, False, duplicate_of=seen)
        try:
            number = self._ledger.next_sequence_number(self._key)
            for queue in self.subscriptions:
                queue.enqueue(message, number, now)
        except BaseException:
            # Some subscriptions may hold a copy already; a retry may then add a second one
            # there, which at-least-once consumers tolerate, rather than be dropped everywhere.
            if props.requires_duplicate_detection:
                self._ledger.forget(self._key, message.message_id, now)
            raise
        scheduled = message.scheduled_enqueue_time
        shown = max(now, scheduled) if scheduled is not None else None
        return SendResult(props.name, message.message_id, True, number, shown)
