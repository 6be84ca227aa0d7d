"""Writes the Service Bus emulator's Config.json from infra/servicebus.json, within its limits."""

# `python scripts/servicebus_emulator_config.py` writes infra/servicebus-emulator/Config.json;
# `--check` exits 1 with a diff when the committed file is stale. servicebus.json holds ARM
# properties (camelCase, Azure Standard's limits); the emulator takes PascalCase keys and tighter
# limits. A value outside a limit is clamped and reported, a property left to an Azure default
# that differs from the emulator's is written out, and a property the emulator does not know is
# an error unless its Kind lists it in `dropped`, with the reason. Dev tooling: stdlib only.

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "infra" / "servicebus.json"
OUTPUT = ROOT / "infra" / "servicebus-emulator" / "Config.json"

SCHEMA = (
    "the emulator's Config-schema.json (Azure/azure-service-bus-emulator-installer, "
    "ServiceBus-Emulator/Schema/Config-schema.json)"
)

# --- The emulator's limits, as its schema states them -----------------------------------------

# Namespaces[].Name: `"enum": ["sbemulatorns"]`, and Namespaces has maxItems 1.
NAMESPACE = "sbemulatorns"
# Queues and Topics: "Max Queues + Topics per namespace is 50".
MAX_ENTITIES = 50
# Subscriptions: minItems 1, maxItems 50 (a topic without a subscription is refused).
MIN_SUBSCRIPTIONS_PER_TOPIC = 1
MAX_SUBSCRIPTIONS_PER_TOPIC = 50
# Every Name: `^[A-Za-z0-9]$|^[A-Za-z0-9][\w-\.\/]*[A-Za-z0-9]$`, an ECMA-262 pattern in which
# the hyphen after \w is literal (Python's re would call it a bad range).
NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][\w\-./]*[A-Za-z0-9]")
# Logging is required; "Console" so `docker compose logs` shows it (File writes in the container).
LOGGING = {"Type": "Console"}


@dataclass(frozen=True)
class Limit:
    """An inclusive range the emulator accepts for one property, with what it is called."""

    label: str
    low: Any
    high: Any
    source: str


# DefaultMessageTimeToLive (queues, topics, subscriptions): "the minimum value is PT5M (5 minutes)
# and the maximum value is PT1H (1 hour)".
TIME_TO_LIVE = Limit("time to live", timedelta(minutes=5), timedelta(hours=1), SCHEMA)
# DuplicateDetectionHistoryTimeWindow (queues, topics): "the minimum value is PT5S (5 seconds)
# and the maximum value is PT5M (5 minutes)".
DUPLICATE_WINDOW = Limit(
    "duplicate-detection window", timedelta(seconds=5), timedelta(minutes=5), SCHEMA
)
# LockDuration of a queue: "the minimum value is PT5S (5 seconds) and the maximum value is PT5M".
QUEUE_LOCK = Limit("queue lock duration", timedelta(seconds=5), timedelta(minutes=5), SCHEMA)
# LockDuration of a subscription: "the minimum value is PT1M (1 minute) and the maximum value is
# PT5M (5 minutes)".
SUBSCRIPTION_LOCK = Limit(
    "subscription lock duration", timedelta(minutes=1), timedelta(minutes=5), SCHEMA
)
# MaxDeliveryCount (queues, subscriptions): "minimum": 1, "maximum": 10.
MAX_DELIVERY_COUNT = Limit("max delivery count", 1, 10, SCHEMA)

# --- Azure's defaults that differ from the emulator's -----------------------------------------

# Left unset in servicebus.json, these get Azure's default in Azure and the emulator's (MaxDelivery
# Count 3, DuplicateDetectionHistoryTimeWindow PT20S) locally: written out, so both agree.
BICEP_TYPES = (
    "Azure/bicep-types-az, generated/servicebus/microsoft.servicebus/2022-10-01-preview/types.json"
)
AZURE_MAX_DELIVERY_COUNT = 10  # SBQueueProperties.maxDeliveryCount: "default value is 10"
AZURE_MAX_DELIVERY_COUNT_SOURCE = (
    f"{BICEP_TYPES}; Microsoft Learn, Overview of Service Bus dead-letter queues, "
    "Maximum delivery count"
)
AZURE_DUPLICATE_WINDOW = "PT10M"  # duplicateDetectionHistoryTimeWindow: "default ... 10 minutes"
AZURE_DUPLICATE_WINDOW_SOURCE = BICEP_TYPES


@dataclass(frozen=True)
class Kind:
    """What the emulator takes for one kind of entity, keyed by the ARM property name."""

    name: str
    properties: Mapping[str, str]  # ARM camelCase -> emulator PascalCase
    limits: Mapping[str, Limit] = field(default_factory=dict)  # by emulator name
    dropped: Mapping[str, str] = field(default_factory=dict)  # ARM name -> why it is dropped
    entry_keys: frozenset[str] = frozenset({"name", "properties"})


# Why an ARM property with no place in the emulator's schema may be dropped rather than refused.
_SIZE = "the emulator's queue and topic size is fixed at 100 MB (Learn, emulator overview, quotas)"
_MESSAGE_SIZE = "Premium only in Azure; the emulator's message size is fixed at 256 KB"
_PARTITIONING = "partitioned entities aren't supported by the emulator (Learn, known limitations)"
_BATCHING = "a server-side throughput setting with no effect on what receivers see"
_AUTO_DELETE = (
    "the emulator recreates its entities from Config.json on every start and keeps none "
    "after a restart (Learn, emulator overview)"
)

QUEUE = Kind(
    name="queue",
    properties={
        "deadLetteringOnMessageExpiration": "DeadLetteringOnMessageExpiration",
        "defaultMessageTimeToLive": "DefaultMessageTimeToLive",
        "duplicateDetectionHistoryTimeWindow": "DuplicateDetectionHistoryTimeWindow",
        "forwardDeadLetteredMessagesTo": "ForwardDeadLetteredMessagesTo",
        "forwardTo": "ForwardTo",
        "lockDuration": "LockDuration",
        "maxDeliveryCount": "MaxDeliveryCount",
        "requiresDuplicateDetection": "RequiresDuplicateDetection",
        "requiresSession": "RequiresSession",
    },
    limits={
        "DefaultMessageTimeToLive": TIME_TO_LIVE,
        "DuplicateDetectionHistoryTimeWindow": DUPLICATE_WINDOW,
        "LockDuration": QUEUE_LOCK,
        "MaxDeliveryCount": MAX_DELIVERY_COUNT,
    },
    dropped={
        "maxSizeInMegabytes": _SIZE,
        "maxMessageSizeInKilobytes": _MESSAGE_SIZE,
        "enablePartitioning": _PARTITIONING,
        "enableBatchedOperations": _BATCHING,
        "autoDeleteOnIdle": _AUTO_DELETE,
    },
)

TOPIC = Kind(
    name="topic",
    properties={
        "defaultMessageTimeToLive": "DefaultMessageTimeToLive",
        "duplicateDetectionHistoryTimeWindow": "DuplicateDetectionHistoryTimeWindow",
        "requiresDuplicateDetection": "RequiresDuplicateDetection",
    },
    limits={
        "DefaultMessageTimeToLive": TIME_TO_LIVE,
        "DuplicateDetectionHistoryTimeWindow": DUPLICATE_WINDOW,
    },
    dropped={
        "maxSizeInMegabytes": _SIZE,
        "maxMessageSizeInKilobytes": _MESSAGE_SIZE,
        "enablePartitioning": _PARTITIONING,
        "enableBatchedOperations": _BATCHING,
        "autoDeleteOnIdle": _AUTO_DELETE,
    },
    entry_keys=frozenset({"name", "properties", "subscriptions"}),
)

SUBSCRIPTION = Kind(
    name="subscription",
    properties={
        "deadLetteringOnMessageExpiration": "DeadLetteringOnMessageExpiration",
        "defaultMessageTimeToLive": "DefaultMessageTimeToLive",
        "forwardDeadLetteredMessagesTo": "ForwardDeadLetteredMessagesTo",
        "forwardTo": "ForwardTo",
        "lockDuration": "LockDuration",
        "maxDeliveryCount": "MaxDeliveryCount",
        "requiresSession": "RequiresSession",
    },
    limits={
        "DefaultMessageTimeToLive": TIME_TO_LIVE,
        "LockDuration": SUBSCRIPTION_LOCK,
        "MaxDeliveryCount": MAX_DELIVERY_COUNT,
    },
    dropped={
        "enableBatchedOperations": _BATCHING,
        "autoDeleteOnIdle": _AUTO_DELETE,
    },
)

KINDS = {kind.name: kind for kind in (QUEUE, TOPIC, SUBSCRIPTION)}
SOURCE_KEYS = frozenset({"description", "queues", "topics"})


class ConfigError(ValueError):
    """servicebus.json holds something the emulator cannot be given."""


@dataclass(frozen=True)
class Adjustment:
    """One emulator value that differs from what Azure gets, and why."""

    kind: str  # queue, topic or subscription
    entity: str  # "orders", or "order-events/all" for a subscription
    property: str  # the emulator's (PascalCase) name
    azure: str  # the value in servicebus.json, or Azure's default when `unset`
    emulator: str
    reason: str
    unset: bool = False


# --- ISO 8601 durations (what .NET's TimeSpan takes: no years or months) -----------------------

_DURATION = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_CALENDAR = re.compile(r"P(?:\d+Y)|P(?:\d+Y)?\d+M")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds as a timedelta."""
    if _CALENDAR.match(text):
        raise ConfigError(f"{text!r}: years and months have no fixed length; write days instead")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ConfigError(f"{text!r} is not an ISO 8601 duration such as PT5M or P14D")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


def format_duration(value: timedelta) -> str:
    """The emulator's form: days and time parts, whole seconds (its schema has no fractions)."""
    if value.microseconds:
        raise ConfigError(f"{value} has a fraction of a second; the emulator takes whole seconds")
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    date = f"{days}D" if days else ""
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")


# --- Building the configuration ---------------------------------------------------------------

# JSON types of the properties without a limit (the schema's "type"), checked before writing.
_TYPES: dict[str, type] = {
    "DeadLetteringOnMessageExpiration": bool,
    "RequiresDuplicateDetection": bool,
    "RequiresSession": bool,
    "ForwardTo": str,
    "ForwardDeadLetteredMessagesTo": str,
}


def _clamp(value: Any, limit: Limit) -> tuple[Any, str | None]:
    """The value within the limit, and why it changed (None when it did not)."""
    if value < limit.low:
        return limit.low, f"the emulator's {limit.label} is at least {_show(limit.low)}"
    if value > limit.high:
        return limit.high, f"the emulator's {limit.label} is at most {_show(limit.high)}"
    return value, None


def _show(value: Any) -> str:
    """A value as the docs and the report write it: PT1H, 10, true."""
    if isinstance(value, timedelta):
        return format_duration(value)
    return value if isinstance(value, str) else json.dumps(value)


def _emulator_value(
    kind: Kind, entity: str, arm_name: str, value: Any, adjustments: list[Adjustment]
) -> tuple[str, Any]:
    name = kind.properties[arm_name]
    expected = _TYPES.get(name)
    if expected is not None and type(value) is not expected:
        raise ConfigError(f"{kind.name} {entity}: {arm_name} must be a {expected.__name__}")
    limit = kind.limits.get(name)
    if limit is None:
        return name, value
    is_duration = isinstance(limit.low, timedelta)
    if is_duration and not isinstance(value, str):
        raise ConfigError(f"{kind.name} {entity}: {arm_name} must be an ISO 8601 duration")
    if not is_duration and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError(f"{kind.name} {entity}: {arm_name} must be an integer")
    parsed = parse_duration(value) if is_duration else value
    clamped, reason = _clamp(parsed, limit)
    emulator = format_duration(clamped) if is_duration else clamped
    if reason is not None:
        adjustments.append(Adjustment(kind.name, entity, name, str(value), _show(clamped), reason))
    return name, emulator


def _azure_defaults(kind: Kind, properties: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """ARM properties to write out with Azure's default, with the default's source."""
    defaults: dict[str, tuple[Any, str]] = {}
    if "maxDeliveryCount" in kind.properties and "maxDeliveryCount" not in properties:
        defaults["maxDeliveryCount"] = (AZURE_MAX_DELIVERY_COUNT, AZURE_MAX_DELIVERY_COUNT_SOURCE)
    if (
        "duplicateDetectionHistoryTimeWindow" in kind.properties
        and properties.get("requiresDuplicateDetection") is True
        and "duplicateDetectionHistoryTimeWindow" not in properties
    ):
        defaults["duplicateDetectionHistoryTimeWindow"] = (
            AZURE_DUPLICATE_WINDOW,
            AZURE_DUPLICATE_WINDOW_SOURCE,
        )
    return defaults


def _entity(
    kind: Kind, entry: Any, adjustments: list[Adjustment], parent: str | None = None
) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"every {kind.name} needs a name: {entry!r}")
    entity = f"{parent}/{entry['name']}" if parent else entry["name"]
    if not NAME.fullmatch(entry["name"]):
        raise ConfigError(f"{kind.name} {entity}: the emulator's schema refuses this name")
    unknown_keys = sorted(set(entry) - kind.entry_keys)
    if unknown_keys:
        raise ConfigError(f"{kind.name} {entity}: the emulator has no place for {unknown_keys}")
    properties = entry.get("properties", {})
    if not isinstance(properties, dict):
        raise ConfigError(f"{kind.name} {entity}: properties must be an object")
    emulated: dict[str, Any] = {}
    for arm_name, value in properties.items():
        if arm_name in kind.dropped:
            continue
        if arm_name not in kind.properties:
            raise ConfigError(
                f"{kind.name} {entity}: {arm_name!r} is not a property the emulator's schema "
                f"knows for a {kind.name}, and it is not listed as dropped (with a reason) in "
                "scripts/servicebus_emulator_config.py"
            )
        name, emulator = _emulator_value(kind, entity, arm_name, value, adjustments)
        emulated[name] = emulator
    for arm_name, (default, source) in _azure_defaults(kind, properties).items():
        before = len(adjustments)
        name, emulator = _emulator_value(kind, entity, arm_name, default, adjustments)
        emulated[name] = emulator
        # One row per property: the default, then any clamp of it, explained together.
        why = f"unset: Azure's default is {_show(default)} ({source}), the emulator's differs"
        if len(adjustments) > before:
            why = f"{why}; {adjustments.pop().reason}"
        adjustments.append(
            Adjustment(kind.name, entity, name, str(default), _show(emulator), why, True)
        )
    return {"Name": entry["name"], "Properties": emulated}


def build(source: Mapping[str, Any]) -> tuple[dict[str, Any], list[Adjustment]]:
    """The emulator's configuration for a servicebus.json document, and what changed on the way."""
    unknown = sorted(set(source) - SOURCE_KEYS)
    if unknown:
        raise ConfigError(f"servicebus.json: unknown top-level keys {unknown}")
    adjustments: list[Adjustment] = []
    queues = [_entity(QUEUE, entry, adjustments) for entry in source.get("queues", [])]
    topics = []
    for entry in source.get("topics", []):
        topic = _entity(TOPIC, entry, adjustments)
        subscriptions = entry.get("subscriptions", [])
        if not MIN_SUBSCRIPTIONS_PER_TOPIC <= len(subscriptions) <= MAX_SUBSCRIPTIONS_PER_TOPIC:
            raise ConfigError(
                f"topic {topic['Name']}: the emulator takes {MIN_SUBSCRIPTIONS_PER_TOPIC} to "
                f"{MAX_SUBSCRIPTIONS_PER_TOPIC} subscriptions per topic, not {len(subscriptions)}"
            )
        topic["Subscriptions"] = [
            _entity(SUBSCRIPTION, sub, adjustments, parent=topic["Name"]) for sub in subscriptions
        ]
        topics.append(topic)
    if len(queues) + len(topics) > MAX_ENTITIES:
        raise ConfigError(f"the emulator takes at most {MAX_ENTITIES} queues and topics in all")
    namespace = {"Name": NAMESPACE, "Queues": queues, "Topics": topics}
    config = {"UserConfig": {"Namespaces": [namespace], "Logging": dict(LOGGING)}}
    return config, adjustments


def render(source: Mapping[str, Any]) -> tuple[str, list[Adjustment]]:
    """Config.json's exact text (entities in servicebus.json's order, trailing newline)."""
    config, adjustments = build(source)
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n", adjustments


def render_file(path: Path = SOURCE) -> tuple[str, list[Adjustment]]:
    return render(json.loads(path.read_text(encoding="utf-8")))


# --- Command line ---------------------------------------------------------------------------


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="servicebus.json to read")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Config.json to write")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if --output differs from what would be written"
    )
    args = parser.parse_args(argv)
    try:
        text, adjustments = render_file(args.source)
    except (ConfigError, OSError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = _relative(args.output)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current == text:
            print(f"{output} is up to date")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{output} (committed)",
            tofile=f"{output} (from {_relative(args.source)})",
        )
        print(
            f"{output} is stale: run python scripts/servicebus_emulator_config.py", file=sys.stderr
        )
        sys.stderr.writelines(diff)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {output}; {len(adjustments)} value(s) differ from Azure's:")
    for item in adjustments:
        print(f"  {item.kind} {item.entity} {item.property}: {item.azure} -> {item.emulator}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
