"""host.json `extensions.queues`, parsed and checked as the queues extension's QueuesOptions."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

MAX_BATCH_SIZE = 32  # Azure Queues returns at most 32 messages per receive
MIN_POLLING_INTERVAL = 0.1  # QueuePollingIntervals.Minimum
BASE64 = "base64"
NONE = "none"

# .NET TimeSpan text: [-][d.]hh:mm[:ss[.fffffff]] (TimeSpan.Parse, invariant culture).
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


class QueueOptionsError(ValueError):
    """A host.json queues option the extension would refuse; the message names it."""


def timespan_seconds(value: Any, where: str) -> float:
    """A host.json TimeSpan ("00:00:30", "1.02:00:00", "00:00:00.5") in seconds."""
    if isinstance(value, bool) or not isinstance(value, str):
        # The host's configuration binder parses a bare number as a count of days
        # (TimeSpan.Parse("2000") is 2000 days): refuse it rather than honour the surprise.
        raise QueueOptionsError(
            f'host.json {where} must be a TimeSpan string such as "00:00:02", got '
            f"{value!r} (a bare number would mean days to the Functions host)"
        )
    match = _TIMESPAN.match(value.strip())
    if not match:
        raise QueueOptionsError(
            f'host.json {where} must be a TimeSpan such as "00:00:30" (hh:mm:ss), got {value!r}'
        )
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise QueueOptionsError(f"host.json {where}: {value!r} is out of range")
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def _integer(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueueOptionsError(
            f"host.json extensions.queues.{key} must be an integer, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class QueueTriggerOptions:
    """The options every queue-triggered function shares (QueuesOptions' defaults)."""

    batch_size: int = 16
    new_batch_threshold: int = 8 * (os.cpu_count() or 1)
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    max_dequeue_count: int = 5
    message_encoding: str = BASE64

    @classmethod
    def from_host_json(cls, raw: dict[str, Any]) -> QueueTriggerOptions:
        """Parse `extensions.queues`; QueueOptionsError for a value the host would refuse."""
        extensions = raw.get("extensions") or {}
        queues = extensions.get("queues") if isinstance(extensions, dict) else None
        if queues is None:
            queues = {}
        if not isinstance(queues, dict):
            raise QueueOptionsError("host.json extensions.queues must be a JSON object")
        batch = _integer(queues, "batchSize", 16)
        if not 1 <= batch <= MAX_BATCH_SIZE:
            raise QueueOptionsError(
                f"host.json extensions.queues.batchSize must be 1 to {MAX_BATCH_SIZE}, got {batch}"
            )
        # Unset, the threshold is BatchSize/2 per processor (QueuesOptions.NewBatchThreshold).
        threshold = _integer(queues, "newBatchThreshold", (batch // 2) * (os.cpu_count() or 1))
        if threshold < 0:
            raise QueueOptionsError(
                "host.json extensions.queues.newBatchThreshold must be zero or more"
            )
        dequeue = _integer(queues, "maxDequeueCount", 5)
        if dequeue < 1:
            raise QueueOptionsError(
                "host.json extensions.queues.maxDequeueCount must be at least 1"
            )
        polling = 60.0
        if queues.get("maxPollingInterval") is not None:
            polling = timespan_seconds(
                queues["maxPollingInterval"], "extensions.queues.maxPollingInterval"
            )
            if polling < MIN_POLLING_INTERVAL:
                raise QueueOptionsError(
                    "host.json extensions.queues.maxPollingInterval must not be less than "
                    "00:00:00.1"
                )
        visibility = 0.0
        if queues.get("visibilityTimeout") is not None:
            visibility = timespan_seconds(
                queues["visibilityTimeout"], "extensions.queues.visibilityTimeout"
            )
        encoding = str(queues.get("messageEncoding") or BASE64).strip().lower()
        if encoding not in (BASE64, NONE):
            raise QueueOptionsError(
                'host.json extensions.queues.messageEncoding must be "base64" or "none", got '
                f"{queues.get('messageEncoding')!r}"
            )
        return cls(
            batch_size=batch,
            new_batch_threshold=threshold,
            visibility_timeout=visibility,
            max_polling_interval=polling,
            max_dequeue_count=dequeue,
            message_encoding=encoding,
        )
