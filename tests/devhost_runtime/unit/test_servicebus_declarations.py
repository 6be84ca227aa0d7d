"""The Service Bus declaration that infra/ Bicep and devhost's stand-in both read."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.servicebus.declarations import (
    DEFAULT_TIME_TO_LIVE,
    DeclarationError,
    declaration_path,
    load_declarations,
)

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, queues: list[dict]) -> Path:
    path = tmp_path / "servicebus.json"
    path.write_text(json.dumps({"queues": queues}))
    return path


def test_the_project_declaration() -> None:
    declared = load_declarations(ROOT / "infra" / "servicebus.json")
    for name in ("orders", "orders-express"):
        queue = declared.queue(name)
        assert queue.declared and queue.max_delivery_count == 5
        assert queue.lock_duration == timedelta(minutes=1)
        assert queue.requires_duplicate_detection
        assert queue.duplicate_detection_window == timedelta(minutes=10)
        assert queue.default_time_to_live == timedelta(days=14)
        assert queue.dead_lettering_on_expiration
    replies = declared.queue("replies")
    # Replies are re-sent with the same MessageId when publishing is retried: dropped here.
    assert replies.max_delivery_count == 10 and replies.requires_duplicate_detection
    assert replies.duplicate_detection_window == timedelta(minutes=10)


def test_every_declared_property_is_an_arm_queue_property() -> None:
    raw = json.loads((ROOT / "infra" / "servicebus.json").read_text())
    arm = {
        "autoDeleteOnIdle",
        "deadLetteringOnMessageExpiration",
        "defaultMessageTimeToLive",
        "duplicateDetectionHistoryTimeWindow",
        "enableBatchedOperations",
        "enableExpress",
        "enablePartitioning",
        "forwardDeadLetteredMessagesTo",
        "forwardTo",
        "lockDuration",
        "maxDeliveryCount",
        "maxMessageSizeInKilobytes",
        "maxSizeInMegabytes",
        "requiresDuplicateDetection",
        "requiresSession",
        "status",
    }
    for queue in raw["queues"]:
        assert set(queue) == {"name", "properties"}
        assert set(queue["properties"]) <= arm


def test_an_undeclared_queue_gets_service_bus_defaults() -> None:
    queue = load_declarations(ROOT / "infra" / "servicebus.json").queue("somewhere-else")
    assert not queue.declared
    assert queue.max_delivery_count == 10
    assert queue.lock_duration == timedelta(minutes=1)
    assert not queue.requires_duplicate_detection
    assert queue.default_time_to_live == DEFAULT_TIME_TO_LIVE
    assert timedelta(days=10_675_199) < DEFAULT_TIME_TO_LIVE
    assert not queue.dead_lettering_on_expiration


def test_names_are_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": "Orders", "properties": {"maxDeliveryCount": 3}}])
    assert load_declarations(path).queue("orders").max_delivery_count == 3


def test_a_missing_file_declares_nothing(tmp_path: Path) -> None:
    declared = load_declarations(tmp_path / "absent.json")
    assert declared.source is None and not declared.queue("orders").declared


def test_the_path_comes_from_the_setting_or_the_app(tmp_path: Path) -> None:
    assert declaration_path(tmp_path, {}) == (tmp_path / "infra" / "servicebus.json").resolve()
    custom = tmp_path / "custom.json"
    setting = {"DEVHOST_SERVICEBUS_DECLARATION": str(custom)}
    assert declaration_path(tmp_path, setting) == custom.resolve()


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"lockDuration": "PT1S"}, "lockDuration PT1S is outside what Service Bus accepts"),
        ({"lockDuration": "PT6M"}, "lockDuration PT6M is outside"),
        ({"lockDuration": "one minute"}, "is not an ISO 8601 duration"),
        ({"defaultMessageTimeToLive": "P1M"}, "uses years or months"),
        ({"duplicateDetectionHistoryTimeWindow": "PT5S"}, "outside what Service Bus accepts"),
        ({"maxDeliveryCount": 0}, "maxDeliveryCount must be an integer >= 1"),
        ({"requiresDuplicateDetection": "yes"}, "must be true or false"),
    ],
)
def test_values_a_deployment_would_refuse_are_refused(
    tmp_path: Path, properties: dict, message: str
) -> None:
    path = write(tmp_path, [{"name": "q", "properties": properties}])
    with pytest.raises(DeclarationError, match=message):
        load_declarations(path)


def test_a_queue_declared_twice_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": "q"}, {"name": "Q"}])
    with pytest.raises(DeclarationError, match="declared twice"):
        load_declarations(path)
