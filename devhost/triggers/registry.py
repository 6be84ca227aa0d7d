"""The trigger sources devhost runs, by binding type."""

from __future__ import annotations

from devhost.blobs.source import BlobTriggerSource
from devhost.queues.source import QueueTriggerSource
from devhost.servicebus.source import ServiceBusSource
from devhost.triggers.base import TriggerSource
from devhost.triggers.timer import TimerSource

# Trigger types served elsewhere: HTTP by the web server, durable ones by the engine.
HANDLED_ELSEWHERE = frozenset(
    {"httpTrigger", "orchestrationTrigger", "activityTrigger", "entityTrigger"}
)


def source_classes() -> list[type[TriggerSource]]:
    return [TimerSource, ServiceBusSource, BlobTriggerSource, QueueTriggerSource]
