"""Topics and subscriptions in the shared declaration, and the paths and storage that back them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from devhost.indexing import index_functions
from devhost.servicebus.declarations import DeclarationError, load_declarations
from devhost.servicebus.names import EntityNameError, QueuePath
from devhost.servicebus.options import HostServiceBusOptions, Refused, trigger_binding

ROOT = Path(__file__).resolve().parents[3]
STORAGE_QUEUE = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
# The ARM schemas' property names (Microsoft.ServiceBus 2022-10-01-preview).
ARM_TOPIC = {
    "autoDeleteOnIdle",
    "defaultMessageTimeToLive",
    "duplicateDetectionHistoryTimeWindow",
    "enableBatchedOperations",
    "enableExpress",
    "enablePartitioning",
    "maxMessageSizeInKilobytes",
    "maxSizeInMegabytes",
    "requiresDuplicateDetection",
    "status",
    "supportOrdering",
}
ARM_SUBSCRIPTION = {
    "autoDeleteOnIdle",
    "clientAffineProperties",
    "deadLetteringOnFilterEvaluationExceptions",
    "deadLetteringOnMessageExpiration",
    "defaultMessageTimeToLive",
    "duplicateDetectionHistoryTimeWindow",
    "enableBatchedOperations",
    "forwardDeadLetteredMessagesTo",
    "forwardTo",
    "isClientAffine",
    "lockDuration",
    "maxDeliveryCount",
    "requiresSession",
    "status",
}


def write(tmp_path: Path, topics: list[Any], queues: list[Any] | None = None) -> Path:
    path = tmp_path / "servicebus.json"
    path.write_text(json.dumps({"queues": queues or [], "topics": topics}))
    return path


def test_the_project_declares_the_order_events_topic() -> None:
    declared = load_declarations(ROOT / "infra" / "servicebus.json")
    topic = declared.topic("order-events")
    assert topic is not None and declared.topic("ORDER-EVENTS") is topic
    assert topic.default_time_to_live == timedelta(days=14)
    assert topic.requires_duplicate_detection
    assert topic.duplicate_detection_window == timedelta(minutes=10)
    subscription = topic.subscription("all")
    assert subscription is not None and subscription.path == "order-events/Subscriptions/all"
    assert subscription.max_delivery_count == 10
    assert subscription.lock_duration == timedelta(minutes=1)
    assert subscription.dead_lettering_on_expiration
    queue = topic.queue_properties(subscription)
    assert queue.default_time_to_live == timedelta(days=14)  # the topic's, the shorter
    assert not queue.requires_duplicate_detection  # the topic drops duplicates
    assert declared.topic("orders") is None  # a queue, not a topic


def test_every_topic_property_is_an_arm_property() -> None:
    raw = json.loads((ROOT / "infra" / "servicebus.json").read_text())
    for topic in raw["topics"]:
        assert set(topic) <= {"name", "properties", "subscriptions"}
        assert set(topic["properties"]) <= ARM_TOPIC
        for subscription in topic["subscriptions"]:
            assert set(subscription) == {"name", "properties"}
            assert set(subscription["properties"]) <= ARM_SUBSCRIPTION


def test_a_subscription_lives_no_longer_than_its_topic_allows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            {
                "name": "events",
                "properties": {"defaultMessageTimeToLive": "PT1H"},
                "subscriptions": [
                    {"name": "short", "properties": {"defaultMessageTimeToLive": "PT5M"}},
                    {"name": "long", "properties": {"defaultMessageTimeToLive": "P1D"}},
                    {"name": "plain"},
                ],
            }
        ],
    )
    topic = load_declarations(path).topic("events")
    assert topic is not None
    ttl = {
        s.name: topic.queue_properties(s).default_time_to_live for s in topic.subscriptions.values()
    }
    assert ttl == {
        "short": timedelta(minutes=5),
        "long": timedelta(hours=1),
        "plain": timedelta(hours=1),
    }
    plain = topic.subscription("PLAIN")
    assert (
        plain is not None
        and plain.max_delivery_count == 10
        and not plain.dead_lettering_on_expiration
    )


@pytest.mark.parametrize(
    ("topics", "queues", "message"),
    [
        ({"name": "t"}, None, '"topics" must be an array'),
        ([{"name": ""}], None, 'every topic needs a "name"'),
        ([{"name": "bad name"}], None, "not a valid Service Bus queue name"),
        ([{"name": "t"}, {"name": "T"}], None, "topic 'T' is declared twice"),
        ([{"name": "orders"}], [{"name": "Orders"}], "both as a queue and as a topic"),
        ([{"name": "t", "subscriptions": {}}], None, '"subscriptions" must be an array'),
        (
            [{"name": "t", "subscriptions": [{"name": "a/b"}]}],
            None,
            "not a valid Service Bus subscription name",
        ),
        (
            [{"name": "t", "subscriptions": [{"name": "s"}, {"name": "S"}]}],
            None,
            "'S' is declared twice",
        ),
        (
            [{"name": "t", "subscriptions": [{"name": "s", "rules": [{"name": "r"}]}]}],
            None,
            "does not evaluate subscription filters",
        ),
        (
            [{"name": "t", "properties": {"maxDeliveryCount": 3}}],
            None,
            "maxDeliveryCount is a property of a subscription",
        ),
        (
            [
                {
                    "name": "t",
                    "subscriptions": [
                        {"name": "s", "properties": {"requiresDuplicateDetection": True}}
                    ],
                }
            ],
            None,
            "requiresDuplicateDetection is a property of a topic",
        ),
        (
            [
                {
                    "name": "t",
                    "subscriptions": [{"name": "s", "properties": {"lockDuration": "PT10M"}}],
                }
            ],
            None,
            r'subscription "t/Subscriptions/s" lockDuration PT10M is outside',
        ),
        (
            [{"name": "t", "properties": {"duplicateDetectionHistoryTimeWindow": "PT1S"}}],
            None,
            'topic "t" duplicateDetectionHistoryTimeWindow PT1S is outside',
        ),
        (
            [{"name": "t", "properties": {"defaultMessageTimeToLive": "P1M"}}],
            None,
            "uses years or months",
        ),
    ],
)
def test_declarations_a_deployment_would_refuse_are_refused(
    tmp_path: Path, topics: Any, queues: list[Any] | None, message: str
) -> None:
    path = write(tmp_path, topics, queues)
    with pytest.raises(DeclarationError, match=message):
        load_declarations(path)


def test_subscription_paths_parse_and_map_to_their_own_storage_queues() -> None:
    path = QueuePath.parse("order-events/subscriptions/all")
    assert path == QueuePath("order-events", subscription="all")
    assert str(path) == "order-events/subscriptions/all".replace("subscriptions", "Subscriptions")
    dead = QueuePath.parse("order-events/Subscriptions/all/$DeadLetterQueue")
    assert dead == QueuePath("order-events", True, "all") and dead.base == path
    names = {
        path.storage_queue,
        dead.storage_queue,
        QueuePath("order-events").storage_queue,
        QueuePath("order-events", True).storage_queue,
        QueuePath("order-events-all").storage_queue,
        QueuePath.parse("order/Subscriptions/events-all").storage_queue,
    }
    assert len(names) == 6
    assert all(STORAGE_QUEUE.fullmatch(name) for name in names)
    assert path.storage_queue.startswith("sb-s-order-events-all-")
    assert dead.storage_queue.startswith("sb-sdlq-order-events-all-")


@pytest.mark.parametrize("entity", ["t/Subscriptions/", "t/Subscriptions/a/b", "/Subscriptions/s"])
def test_invalid_subscription_paths_are_refused(entity: str) -> None:
    with pytest.raises(EntityNameError):
        QueuePath.parse(entity)


def test_a_queue_trigger_on_a_subscription_path_is_pointed_to_the_topic_trigger() -> None:
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(
        arg_name="msg", connection="SB", queue_name="order-events/Subscriptions/all"
    )
    def fn(msg: func.ServiceBusMessage) -> None:
        pass

    (indexed,) = index_functions(app)
    with pytest.raises(Refused, match=r"listen on it with service_bus_topic_trigger\("):
        trigger_binding(indexed, HostServiceBusOptions())
