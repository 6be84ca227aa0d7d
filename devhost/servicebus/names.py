"""Maps Service Bus queue names onto the storage queue names that back them in the stand-in."""

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
DEAD_LETTER_SUFFIX = "/$deadletterqueue"
ACTIVE_PREFIX = "sb-q-"
DEAD_LETTER_PREFIX = "sb-dlq-"
_MAX_STORAGE_NAME = 63
_ENTITY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?")
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


class EntityNameError(ValueError):
    """Not a valid Service Bus queue name."""


@dataclass(frozen=True)
class QueuePath:
    """A queue, or its dead-letter sub-queue (`<queue>/$deadletterqueue`)."""

    queue: str
    dead_letter: bool = False

    @classmethod
    def parse(cls, path: str) -> QueuePath:
        if path.lower().endswith(DEAD_LETTER_SUFFIX):
            return cls(_checked(path[: -len(DEAD_LETTER_SUFFIX)]), dead_letter=True)
        return cls(_checked(path))

    def __str__(self) -> str:
        return self.queue + (DEAD_LETTER_SUFFIX if self.dead_letter else "")

    @property
    def storage_queue(self) -> str:
        return (
            dead_letter_queue_name(self.queue)
            if self.dead_letter
            else active_queue_name(self.queue)
        )


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
