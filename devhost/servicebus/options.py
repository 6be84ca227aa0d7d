"""Reads the Service Bus trigger settings devhost honours: host.json and the binding."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from devhost.expressions import resolve
from devhost.indexing import IndexedFunction
from devhost.servicebus.names import SUBSCRIPTIONS_SEGMENT, EntityNameError, QueuePath

# Defaults are those of the Service Bus extension 5.x (`ServiceBusOptions`), which extension
# bundle 4.x loads: maxConcurrentCalls 16 x processors, autoCompleteMessages true,
# maxAutoLockRenewalDuration 00:05:00. A binding's `autoCompleteMessages` overrides host.json.
DEFAULT_CONNECTION = "AzureWebJobsServiceBus"
# `dataType: binary` hands the function the body's bytes; anything else a UTF-8 string.
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?")
_SETTLEMENT_MODULE = "azurefunctions.extensions.bindings.servicebus"


class OptionsError(ValueError):
    """host.json extensions.serviceBus has a value devhost (and the host) cannot use."""


class Refused(Exception):
    """A Service Bus trigger devhost will not run; the message says why and what to do."""


def parse_timespan(value: str) -> float:
    """A .NET TimeSpan ("00:05:00", "1.02:00:00", or a whole number of days) in seconds."""
    text = value.strip()
    if text.isdigit():
        return int(text) * 86400.0
    match = _TIMESPAN.fullmatch(text)
    if not match:
        raise OptionsError(f"'{value}' is not a TimeSpan such as '00:05:00'")
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise OptionsError(f"'{value}' is not a TimeSpan such as '00:05:00'")
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


@dataclass(frozen=True)
class HostServiceBusOptions:
    """host.json `extensions.serviceBus`, with the extension's defaults."""

    max_concurrent_calls: int = 16 * (os.cpu_count() or 1)
    auto_complete_messages: bool = True
    max_auto_lock_renewal: float = 300.0
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_host_json(cls, raw: dict[str, Any]) -> HostServiceBusOptions:
        section = (raw.get("extensions") or {}).get("serviceBus") or {}
        if not isinstance(section, dict):
            raise OptionsError("host.json extensions.serviceBus must be an object")
        defaults = cls()
        calls = section.get("maxConcurrentCalls", defaults.max_concurrent_calls)
        if not isinstance(calls, int) or isinstance(calls, bool) or calls < 1:
            raise OptionsError(
                f"host.json extensions.serviceBus.maxConcurrentCalls must be an integer >= 1, "
                f"got {calls!r}"
            )
        auto = section.get("autoCompleteMessages", defaults.auto_complete_messages)
        if not isinstance(auto, bool):
            raise OptionsError(
                "host.json extensions.serviceBus.autoCompleteMessages must be true or false"
            )
        renewal = section.get("maxAutoLockRenewalDuration")
        seconds = defaults.max_auto_lock_renewal
        if renewal is not None:
            try:
                seconds = parse_timespan(str(renewal))
            except OptionsError as exc:
                raise OptionsError(
                    f"host.json extensions.serviceBus.maxAutoLockRenewalDuration: {exc}"
                ) from None
        warnings = []
        if "messageHandlerOptions" in section:
            warnings.append(
                "host.json extensions.serviceBus.messageHandlerOptions is the 4.x extension's "
                "shape and is ignored by the 5.x extension that extension bundle 4.x loads: "
                "set maxConcurrentCalls, autoCompleteMessages and maxAutoLockRenewalDuration "
                "directly under extensions.serviceBus"
            )
        return cls(calls, auto, seconds, tuple(warnings))


@dataclass(frozen=True)
class TriggerBinding:
    """One function's serviceBusTrigger binding, with app settings resolved."""

    path: QueuePath
    connection: str
    binary: bool
    auto_complete: bool


def _flag(trigger: dict[str, Any], key: str) -> bool | None:
    value = trigger.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _asks_for_settlement(fn: IndexedFunction) -> bool:
    """True when the function uses the preview settlement package's types."""
    trigger = fn.trigger
    properties = trigger.get("properties") or {}
    if any(str(k).lower() == "supportsdeferredbinding" and v for k, v in properties.items()):
        return True
    return any(
        str(getattr(hint, "__module__", "")).startswith(_SETTLEMENT_MODULE)
        for hint in fn.type_hints.values()
    )


def _entity_path(trigger: dict[str, Any]) -> QueuePath:
    """The queue or subscription (or its dead letters) the trigger receives from.

    As the extension does, a topic trigger listens on `<topic>/Subscriptions/<subscription>`,
    so `subscription_name="audit/$deadletterqueue"` receives that subscription's dead letters.
    """
    queue_name = trigger.get("queueName")
    topic_name = trigger.get("topicName")
    subscription_name = trigger.get("subscriptionName")
    if queue_name and (topic_name or subscription_name):
        raise ValueError("the trigger has both a queueName and a topicName/subscriptionName")
    if topic_name or subscription_name:
        if not (topic_name and subscription_name):
            raise ValueError("a topic trigger needs both topic_name and subscription_name")
        topic, subscription = resolve(str(topic_name)), resolve(str(subscription_name))
        if SUBSCRIPTIONS_SEGMENT.lower() in topic.lower():
            raise ValueError(f"'{topic}' is not a topic name (it names a subscription)")
        return QueuePath.parse(f"{topic}{SUBSCRIPTIONS_SEGMENT}{subscription}")
    if not queue_name:
        raise ValueError("the trigger has no queueName (or topicName and subscriptionName)")
    path = QueuePath.parse(resolve(str(queue_name)))
    if path.subscription is not None:
        raise ValueError(
            f"'{path}' is a topic subscription: listen on it with "
            f"service_bus_topic_trigger(topic_name='{path.queue}', "
            f"subscription_name='{path.subscription}')"
        )
    return path


def trigger_binding(fn: IndexedFunction, host: HostServiceBusOptions) -> TriggerBinding:
    """Validate and resolve a function's trigger; Refused names what devhost cannot run."""
    trigger = fn.trigger
    if _asks_for_settlement(fn):
        raise Refused(
            "it settles messages from code with azurefunctions-extensions-bindings-servicebus "
            "(ServiceBusReceivedMessage / ServiceBusMessageActions). That preview package calls "
            "back into the Functions host over gRPC, which devhost does not provide. Annotate "
            "the message as func.ServiceBusMessage: returning completes it, raising abandons it "
            "(and dead-letters it after maxDeliveryCount)."
        )
    if str(trigger.get("cardinality", "one")).lower() == "many":
        raise Refused(
            "cardinality 'many' (batches) is not supported by devhost yet; use one message "
            "per invocation"
        )
    if _flag(trigger, "isSessionsEnabled"):
        raise Refused("session-enabled queues and subscriptions are not supported by devhost yet")
    try:
        path = _entity_path(trigger)
    except (ValueError, EntityNameError) as exc:
        raise Refused(str(exc)) from exc
    connection = resolve(str(trigger.get("connection") or DEFAULT_CONNECTION))
    auto = _flag(trigger, "autoCompleteMessages")
    return TriggerBinding(
        path=path,
        connection=connection,
        binary=str(trigger.get("dataType", "")).lower() == "binary",
        auto_complete=host.auto_complete_messages if auto is None else auto,
    )
