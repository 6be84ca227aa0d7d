"""Reads the Service Bus declaration (infra/servicebus.json) that Bicep and devhost share."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import isodate

from devhost.servicebus.names import (
    SUBSCRIPTIONS_SEGMENT,
    EntityNameError,
    QueuePath,
    checked_entity,
    checked_subscription,
)

DECLARATION_SETTING = "DEVHOST_SERVICEBUS_DECLARATION"
DEFAULT_DECLARATION = Path("infra") / "servicebus.json"

# Service Bus's defaults for a queue created without these properties. Sources: the ARM
# reference for Microsoft.ServiceBus/namespaces/queues (SBQueueProperties: "maxDeliveryCount
# ... default value is 10", "lockDuration ... the default value is 1 minute", "duplicate
# detection history ... The default value is 10 minutes"), and QueueProperties in
# Azure.Messaging.ServiceBus.Administration (DefaultMessageTimeToLive defaults to
# TimeSpan.MaxValue, which ARM shows as P10675199DT2H48M5.4775807S; requiresDuplicateDetection
# and deadLetteringOnMessageExpiration default to false).
# https://learn.microsoft.com/azure/templates/microsoft.servicebus/namespaces/queues
DEFAULT_MAX_DELIVERY_COUNT = 10
DEFAULT_LOCK_DURATION = timedelta(minutes=1)
DEFAULT_DUPLICATE_WINDOW = timedelta(minutes=10)
MAX_TIME_TO_LIVE_TEXT = "P10675199DT2H48M5.4775807S"
DEFAULT_TIME_TO_LIVE = isodate.parse_duration(MAX_TIME_TO_LIVE_TEXT)

# The ranges Service Bus accepts (same reference): lock 5 s to 5 min, duplicate detection
# window 20 s to 7 days. devhost refuses what a deployment would refuse.
_LOCK_RANGE = (timedelta(seconds=5), timedelta(minutes=5))
_DUPLICATE_RANGE = (timedelta(seconds=20), timedelta(days=7))

# Properties devhost's stand-in emulates; any other ARM property is accepted and ignored.
EMULATED = (
    "maxDeliveryCount",
    "lockDuration",
    "requiresDuplicateDetection",
    "duplicateDetectionHistoryTimeWindow",
    "defaultMessageTimeToLive",
    "deadLetteringOnMessageExpiration",
)
# A topic (Microsoft.ServiceBus/namespaces/topics) holds the duplicate detection and the time
# to live; its subscriptions (.../topics/subscriptions) hold the delivery semantics. A property
# on the wrong one is not in that resource's ARM schema: refused here rather than ignored.
_SUBSCRIPTION_ONLY = ("maxDeliveryCount", "lockDuration", "deadLetteringOnMessageExpiration")
_TOPIC_ONLY = ("requiresDuplicateDetection",)


class DeclarationError(ValueError):
    """The declaration file cannot be used; the message names the file, entity and property."""


@dataclass(frozen=True)
class QueueProperties:
    """One queue's delivery semantics, with Service Bus's defaults for what is not declared."""

    name: str
    max_delivery_count: int = DEFAULT_MAX_DELIVERY_COUNT
    lock_duration: timedelta = DEFAULT_LOCK_DURATION
    requires_duplicate_detection: bool = False
    duplicate_detection_window: timedelta = DEFAULT_DUPLICATE_WINDOW
    default_time_to_live: timedelta = DEFAULT_TIME_TO_LIVE
    dead_lettering_on_expiration: bool = False
    declared: bool = True

    @property
    def lock_seconds(self) -> int:
        """The lock as whole seconds (storage visibility timeouts are whole seconds)."""
        return max(1, int(-(-self.lock_duration.total_seconds() // 1)))

    def describe(self, duplicates_where: str = "") -> str:
        window = (
            f"duplicate detection {isodate.duration_isoformat(self.duplicate_detection_window)}"
            f"{duplicates_where}"
            if self.requires_duplicate_detection
            else f"no duplicate detection{duplicates_where}"
        )
        ttl = (
            "no expiry"
            if self.default_time_to_live >= DEFAULT_TIME_TO_LIVE
            else f"TTL {isodate.duration_isoformat(self.default_time_to_live)}"
        )
        expiry = (
            "expired messages dead-lettered"
            if self.dead_lettering_on_expiration
            else "expired messages dropped"
        )
        return (
            f"maxDeliveryCount {self.max_delivery_count}, "
            f"lockDuration {isodate.duration_isoformat(self.lock_duration)}, "
            f"{window}, {ttl}, {expiry}"
        )


@dataclass(frozen=True)
class SubscriptionProperties:
    """One topic subscription's delivery semantics. Every message of the topic reaches it."""

    topic: str
    name: str
    max_delivery_count: int = DEFAULT_MAX_DELIVERY_COUNT
    lock_duration: timedelta = DEFAULT_LOCK_DURATION
    default_time_to_live: timedelta = DEFAULT_TIME_TO_LIVE
    dead_lettering_on_expiration: bool = False

    @property
    def path(self) -> str:
        return f"{self.topic}{SUBSCRIPTIONS_SEGMENT}{self.name}"


@dataclass(frozen=True)
class TopicProperties:
    """One topic: duplicate detection and time to live, and its subscriptions by name."""

    name: str
    requires_duplicate_detection: bool = False
    duplicate_detection_window: timedelta = DEFAULT_DUPLICATE_WINDOW
    default_time_to_live: timedelta = DEFAULT_TIME_TO_LIVE
    subscriptions: dict[str, SubscriptionProperties] = field(default_factory=dict)

    def subscription(self, name: str) -> SubscriptionProperties | None:
        return self.subscriptions.get(name.lower())

    def queue_properties(self, subscription: SubscriptionProperties) -> QueueProperties:
        """A subscription as the stand-in queue that holds its copies of the topic's messages.

        A message lives for the shortest of its own time to live, the topic's and the
        subscription's. Duplicates are dropped at the topic, before any copy is made.
        """
        return QueueProperties(
            name=subscription.path,
            max_delivery_count=subscription.max_delivery_count,
            lock_duration=subscription.lock_duration,
            default_time_to_live=min(self.default_time_to_live, subscription.default_time_to_live),
            dead_lettering_on_expiration=subscription.dead_lettering_on_expiration,
        )

    def describe(self) -> str:
        window = (
            f"duplicate detection {isodate.duration_isoformat(self.duplicate_detection_window)}"
            if self.requires_duplicate_detection
            else "no duplicate detection"
        )
        names = ", ".join(s.name for s in self.subscriptions.values()) or "none"
        return f"{window}; subscriptions: {names}"


@dataclass(frozen=True)
class Declarations:
    """Every declared queue and topic, by name (Service Bus entity names are case-insensitive)."""

    source: Path | None
    queues: dict[str, QueueProperties] = field(default_factory=dict)
    topics: dict[str, TopicProperties] = field(default_factory=dict)

    def queue(self, name: str) -> QueueProperties:
        """The declared properties, or Service Bus's defaults for an undeclared queue."""
        found = self.queues.get(name.lower())
        if found is not None:
            return found
        return QueueProperties(name=name, declared=False)

    def topic(self, name: str) -> TopicProperties | None:
        """The declared topic, or None: a topic is never assumed, its subscriptions are needed."""
        return self.topics.get(name.lower())

    @property
    def where(self) -> str:
        """Where declarations come from, for error messages."""
        if self.source is None:
            return (
                "the declaration (there is no file: add infra/servicebus.json or set "
                f"{DECLARATION_SETTING})"
            )
        return str(self.source)


def describe_subscription(declarations: Declarations, path: QueuePath) -> str:
    """A declared subscription's delivery semantics, with its topic's duplicate detection."""
    topic = declarations.topic(path.queue)
    subscription = topic.subscription(path.subscription or "") if topic else None
    if topic is None or subscription is None:
        raise KeyError(f"subscription '{path.entity}' is not declared")
    shown = replace(
        topic.queue_properties(subscription),
        requires_duplicate_detection=topic.requires_duplicate_detection,
        duplicate_detection_window=topic.duplicate_detection_window,
    )
    return shown.describe(duplicates_where=f" at topic '{topic.name}'")


def declaration_path(app_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """DEVHOST_SERVICEBUS_DECLARATION if set, else APP_DIR/infra/servicebus.json."""
    env = os.environ if environ is None else environ
    configured = env.get(DECLARATION_SETTING)
    if configured:
        return Path(configured).expanduser().resolve()
    return (app_dir / DEFAULT_DECLARATION).resolve()


def load_declarations(path: Path) -> Declarations:
    """Parse the declaration; a missing file declares nothing (every queue gets defaults)."""
    if not path.exists():
        return Declarations(source=None)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DeclarationError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("queues", []), list):
        raise DeclarationError(f'{path} must be an object with a "queues" array')
    if not isinstance(raw.get("topics", []), list):
        raise DeclarationError(f'{path}: "topics" must be an array')
    queues: dict[str, QueueProperties] = {}
    for entry in raw.get("queues", []):
        queue = _queue(path, entry)
        if queue.name.lower() in queues:
            raise DeclarationError(f"{path}: queue '{queue.name}' is declared twice")
        queues[queue.name.lower()] = queue
    topics: dict[str, TopicProperties] = {}
    for entry in raw.get("topics", []):
        topic = _topic(path, entry)
        if topic.name.lower() in topics:
            raise DeclarationError(f"{path}: topic '{topic.name}' is declared twice")
        if topic.name.lower() in queues:
            # Queues and topics share one namespace of entity names in Service Bus.
            raise DeclarationError(
                f"{path}: '{topic.name}' is declared both as a queue and as a topic"
            )
        topics[topic.name.lower()] = topic
    return Declarations(source=path, queues=queues, topics=topics)


def _entry(path: Path, kind: str, entry: Any) -> tuple[str, dict[str, Any]]:
    """The entry's name and properties object, or a DeclarationError naming what is wrong."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise DeclarationError(f'{path}: every {kind} needs a "name" string, got {entry!r}')
    props = entry.get("properties") or {}
    if not isinstance(props, dict):
        raise DeclarationError(f'{path}: {kind} "{entry["name"]}" properties must be an object')
    return entry["name"], props


def _misplaced(where: str, props: dict[str, Any], keys: tuple[str, ...], owner: str) -> None:
    for key in keys:
        if key in props:
            raise DeclarationError(
                f"{where}: {key} is a property of a {owner}, not of this entity; move it there"
            )


def _topic(path: Path, entry: Any) -> TopicProperties:
    name, props = _entry(path, "topic", entry)
    where = f'{path}: topic "{name}"'
    try:
        checked_entity(name)
    except EntityNameError as exc:
        raise DeclarationError(f"{where}: {exc}") from None
    _misplaced(where, props, _SUBSCRIPTION_ONLY, "subscription")
    window = _duration(
        where, props, "duplicateDetectionHistoryTimeWindow", DEFAULT_DUPLICATE_WINDOW
    )
    _check_range(where, "duplicateDetectionHistoryTimeWindow", window, _DUPLICATE_RANGE)
    ttl = _positive_ttl(where, props)
    listed = entry.get("subscriptions", [])
    if not isinstance(listed, list):
        raise DeclarationError(f'{where} "subscriptions" must be an array')
    subscriptions: dict[str, SubscriptionProperties] = {}
    for item in listed:
        subscription = _subscription(path, name, item)
        if subscription.name.lower() in subscriptions:
            raise DeclarationError(f"{where}: subscription '{subscription.name}' is declared twice")
        subscriptions[subscription.name.lower()] = subscription
    return TopicProperties(
        name=name,
        requires_duplicate_detection=_flag(where, props, "requiresDuplicateDetection"),
        duplicate_detection_window=window,
        default_time_to_live=ttl,
        subscriptions=subscriptions,
    )


def _subscription(path: Path, topic: str, entry: Any) -> SubscriptionProperties:
    name, props = _entry(path, f'subscription of topic "{topic}"', entry)
    where = f'{path}: subscription "{topic}{SUBSCRIPTIONS_SEGMENT}{name}"'
    try:
        checked_subscription(name)
    except EntityNameError as exc:
        raise DeclarationError(f"{where}: {exc}") from None
    if entry.get("rules"):
        raise DeclarationError(
            f"{where} has rules: devhost's stand-in does not evaluate subscription filters "
            "(every subscription receives every message of its topic); remove the rules or "
            "test them against a real namespace"
        )
    _misplaced(where, props, _TOPIC_ONLY, "topic")
    lock = _duration(where, props, "lockDuration", DEFAULT_LOCK_DURATION)
    _check_range(where, "lockDuration", lock, _LOCK_RANGE)
    return SubscriptionProperties(
        topic=topic,
        name=name,
        max_delivery_count=_max_delivery(where, props),
        lock_duration=lock,
        default_time_to_live=_positive_ttl(where, props),
        dead_lettering_on_expiration=_flag(where, props, "deadLetteringOnMessageExpiration"),
    )


def _max_delivery(where: str, props: dict[str, Any]) -> int:
    value = props.get("maxDeliveryCount", DEFAULT_MAX_DELIVERY_COUNT)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DeclarationError(f"{where} maxDeliveryCount must be an integer >= 1")
    return value


def _positive_ttl(where: str, props: dict[str, Any]) -> timedelta:
    ttl = _duration(where, props, "defaultMessageTimeToLive", DEFAULT_TIME_TO_LIVE)
    if ttl <= timedelta(0):
        raise DeclarationError(f"{where} defaultMessageTimeToLive must be positive")
    return ttl


def _queue(path: Path, entry: Any) -> QueueProperties:
    name, props = _entry(path, "queue", entry)
    where = f'{path}: queue "{name}"'
    max_delivery = _max_delivery(where, props)
    lock = _duration(where, props, "lockDuration", DEFAULT_LOCK_DURATION)
    _check_range(where, "lockDuration", lock, _LOCK_RANGE)
    window = _duration(
        where, props, "duplicateDetectionHistoryTimeWindow", DEFAULT_DUPLICATE_WINDOW
    )
    _check_range(where, "duplicateDetectionHistoryTimeWindow", window, _DUPLICATE_RANGE)
    ttl = _positive_ttl(where, props)
    return QueueProperties(
        name=name,
        max_delivery_count=max_delivery,
        lock_duration=lock,
        requires_duplicate_detection=_flag(where, props, "requiresDuplicateDetection"),
        duplicate_detection_window=window,
        default_time_to_live=ttl,
        dead_lettering_on_expiration=_flag(where, props, "deadLetteringOnMessageExpiration"),
    )


def _flag(where: str, props: dict[str, Any], key: str) -> bool:
    value = props.get(key, False)
    if not isinstance(value, bool):
        raise DeclarationError(f"{where} {key} must be true or false")
    return value


def _duration(where: str, props: dict[str, Any], key: str, default: timedelta) -> timedelta:
    value = props.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DeclarationError(f"{where} {key} must be an ISO 8601 duration such as 'PT1M'")
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise DeclarationError(f"{where} {key} '{value}' is not an ISO 8601 duration") from exc
    if not isinstance(parsed, timedelta):
        raise DeclarationError(
            f"{where} {key} '{value}' uses years or months; Service Bus takes days and times "
            "(e.g. 'P14D', 'PT10M')"
        )
    return parsed


def _check_range(
    where: str, key: str, value: timedelta, bounds: tuple[timedelta, timedelta]
) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise DeclarationError(
            f"{where} {key} {isodate.duration_isoformat(value)} is outside what Service Bus "
            f"accepts ({isodate.duration_isoformat(low)} to {isodate.duration_isoformat(high)})"
        )
