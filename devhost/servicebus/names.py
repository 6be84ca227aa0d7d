"""Maps Service Bus entity paths onto the storage queue names that back them in the stand-in."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Service Bus queue names: 1-260 letters, digits, '.', '-', '_', '/', case-insensitive. Storage
# queue names: 3-63 lowercase letters, digits and single '-'. Active messages live in
# `sb-q-<name>`, dead letters in `sb-dlq-<name>` (the prefixes never collide); `<name>` is the
# lowercased name with each run of other characters turned into one '-', and when that changed
# more than case, or is too long, it is shortened and ends with 8 hex digits of the SHA-256 of
# the lowercased name, so distinct queues never share a storage queue.
# `orders` -> `sb-q-orders` / `sb-dlq-orders`; `Orders.EU` -> `sb-q-orders-eu-<hash>`.
# A topic subscription `<topic>/Subscriptions/<name>` is `sb-s-<topic>-<name>-<hash>` and its
# dead letters `sb-sdlq-...` (always hashed, since `/` is cleaned away: `a-b`+`c` and `a`+`b-c`
# stay apart). A topic keeps no messages itself; `sb-t-<topic>` names its sequence counter and
# duplicate history in the ledger.
DEAD_LETTER_SUFFIX = "/$deadletterqueue"
SUBSCRIPTIONS_SEGMENT = "/Subscriptions/"
ACTIVE_PREFIX = "sb-q-"
DEAD_LETTER_PREFIX = "sb-dlq-"
SUBSCRIPTION_PREFIX = "sb-s-"
SUBSCRIPTION_DEAD_LETTER_PREFIX = "sb-sdlq-"
TOPIC_PREFIX = "sb-t-"
_MAX_STORAGE_NAME = 63
_ENTITY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?")
# Subscription names: 1-50 letters, digits, '.', '-', '_', starting and ending with a letter or
# digit (the ARM reference for namespaces/topics/subscriptions).
_SUBSCRIPTION_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?")
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


class EntityNameError(ValueError):
    """Not a valid Service Bus queue, topic or subscription name."""


@dataclass(frozen=True)
class QueuePath:
    """Something messages are received from: a queue or a topic subscription, or its dead letters.

    `queue` is the queue's name, or the topic's for a subscription:
    `orders`, `orders/$deadletterqueue`, `order-events/Subscriptions/all`,
    `order-events/Subscriptions/all/$deadletterqueue`.
    """

    queue: str
    dead_letter: bool = False
    subscription: str | None = None

    @classmethod
    def parse(cls, path: str) -> QueuePath:
        dead_letter = path.lower().endswith(DEAD_LETTER_SUFFIX)
        if dead_letter:
            path = path[: -len(DEAD_LETTER_SUFFIX)]
        topic, sep, subscription = _split_subscription(path)
        if sep:
            return cls(_checked(topic), dead_letter, checked_subscription(subscription))
        return cls(_checked(path), dead_letter)

    def __str__(self) -> str:
        return self.entity + (DEAD_LETTER_SUFFIX if self.dead_letter else "")

    @property
    def entity(self) -> str:
        """The queue or subscription path, without the dead-letter suffix."""
        if self.subscription is None:
            return self.queue
        return f"{self.queue}{SUBSCRIPTIONS_SEGMENT}{self.subscription}"

    @property
    def kind(self) -> str:
        """`queue` or `subscription`, for log lines and errors."""
        return "queue" if self.subscription is None else "subscription"

    @property
    def base(self) -> QueuePath:
        """The queue or subscription itself, for a path that may name its dead letters."""
        return QueuePath(self.queue, False, self.subscription)

    @property
    def storage_queue(self) -> str:
        if self.subscription is not None:
            prefix = SUBSCRIPTION_DEAD_LETTER_PREFIX if self.dead_letter else SUBSCRIPTION_PREFIX
            return _storage_name(prefix, f"{self.queue}/{self.subscription}")
        return (
            dead_letter_queue_name(self.queue)
            if self.dead_letter
            else active_queue_name(self.queue)
        )


def _split_subscription(path: str) -> tuple[str, str, str]:
    """`topic`, `/Subscriptions/`, `name` (the segment in any case), or `path`, "", ""."""
    at = path.lower().rfind(SUBSCRIPTIONS_SEGMENT.lower())
    if at < 0:
        return path, "", ""
    end = at + len(SUBSCRIPTIONS_SEGMENT)
    return path[:at], path[at:end], path[end:]


def checked_subscription(name: str) -> str:
    if not _SUBSCRIPTION_NAME.fullmatch(name):
        raise EntityNameError(
            f"'{name}' is not a valid Service Bus subscription name (1-50 letters, digits, '.', "
            "'-' or '_', starting and ending with a letter or digit)"
        )
    return name


def checked_entity(name: str) -> str:
    """A valid queue or topic name, or EntityNameError."""
    return _checked(name)


def _checked(name: str) -> str:
    if not _ENTITY_NAME.fullmatch(name):
        raise EntityNameError(
            f"'{name}' is not a valid Service Bus queue name (1-260 letters, digits, '.', '-', "
            "'_' or '/', starting and ending with a letter or digit)"
        )
    return name


def _storage_name(prefix: str, name: str) -> str:
    lowered = _checked(name).lower()
    cleaned = _NOT_ALLOWED.sub("-", lowered).strip("-")
    budget = _MAX_STORAGE_NAME - len(prefix)
    if cleaned == lowered and len(cleaned) <= budget:
        return prefix + cleaned
    digest = hashlib.sha256(lowered.encode()).hexdigest()[:8]
    stem = cleaned[: budget - len(digest) - 1].strip("-")
    return f"{prefix}{stem}-{digest}" if stem else f"{prefix}{digest}"


def active_queue_name(name: str) -> str:
    """The storage queue holding a Service Bus queue's active (and scheduled) messages."""
    return _storage_name(ACTIVE_PREFIX, name)


def dead_letter_queue_name(name: str) -> str:
    """The storage queue holding a Service Bus queue's dead-letter sub-queue."""
    return _storage_name(DEAD_LETTER_PREFIX, name)


def topic_ledger_name(name: str) -> str:
    """The ledger key of a topic's sequence numbers and duplicate-detection history."""
    return _storage_name(TOPIC_PREFIX, name)
