"""Topics on the Azurite stand-in: fan-out, topic-level duplicates, subscription semantics."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.connections import resolve_storage
from devhost.servicebus.client import peek_dead_letters, resubmit_dead_letters, send_message
from devhost.servicebus.declarations import load_declarations
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.models import OutgoingMessage
from devhost.servicebus.names import QueuePath
from devhost.servicebus.namespace import EntityNotFound, StandInNamespace
from devhost.servicebus.standin import MessageTooLarge


class FailingOnce:
    """A storage queue client whose first send fails, as when storage drops a request."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failed = False

    def send_message(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("storage went away")
        return self._client.send_message(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class QueueService:
    """Azurite's queue service, with one storage queue's sends failing once."""

    def __init__(self, service: Any, failing: str | None = None) -> None:
        self._service = service
        self._failing = failing

    def get_queue_client(self, name: str) -> Any:
        client = self._service.get_queue_client(name)
        return FailingOnce(client) if name == self._failing else client


def declare(tmp_path: Path, topic: str, *subscriptions: dict[str, Any]) -> Path:
    path = tmp_path / "servicebus.json"
    declared = {
        "queues": [],
        "topics": [
            {
                "name": topic,
                "properties": {
                    "requiresDuplicateDetection": True,
                    "duplicateDetectionHistoryTimeWindow": "PT1M",
                },
                "subscriptions": list(subscriptions),
            }
        ],
    }
    path.write_text(json.dumps(declared))
    return path


def namespace(azurite: Azurite, declaration: Path, failing: str | None = None) -> StandInNamespace:
    storage = resolve_storage(environ={"AzureWebJobsStorage": azurite.connection_string})
    return StandInNamespace(
        QueueService(storage.queue_service(), failing),
        Ledger(storage.table_service()),
        load_declarations(declaration),
    )


def message(message_id: str | None = None, body: bytes = b"event") -> OutgoingMessage:
    return OutgoingMessage(body=body, message_id=message_id or uuid.uuid4().hex)


def ids(bus: StandInNamespace, entity: str) -> list[str]:
    queue = bus.receiver(QueuePath.parse(entity))
    return [locked.envelope.message.message_id for locked in queue.receive(32)]


@pytest.fixture
def topic() -> str:
    return f"events-{uuid.uuid4().hex[:8]}"


def test_each_subscription_gets_a_copy_numbered_by_the_topic(
    azurite: Azurite, tmp_path: Path, topic: str
) -> None:
    bus = namespace(azurite, declare(tmp_path, topic, {"name": "a"}, {"name": "b"}))
    sent = [bus.sender(topic, topic=True).send(message()) for _ in range(3)]
    assert [r.sequence_number for r in sent] == [1, 2, 3]
    for name in ("a", "b"):
        queue = bus.receiver(QueuePath(topic, subscription=name))
        received = sorted(queue.receive(32), key=lambda item: item.envelope.sequence_number)
        assert [r.envelope.sequence_number for r in received] == [1, 2, 3]
        assert [r.envelope.message.message_id for r in received] == [r.message_id for r in sent]


def test_a_subscription_dead_letters_after_its_own_max_delivery_count(
    azurite: Azurite, tmp_path: Path, topic: str
) -> None:
    declaration = declare(
        tmp_path, topic, {"name": "strict", "properties": {"maxDeliveryCount": 1}}, {"name": "lax"}
    )
    bus = namespace(azurite, declaration)
    sent = bus.sender(topic).send(message())  # a queue sender on a topic name reaches the topic
    strict = bus.receiver(QueuePath(topic, subscription="strict"))
    (locked,) = strict.receive(1)
    strict.abandon(locked)
    environ = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(declaration),
    }
    letters, total = peek_dead_letters(f"{topic}/Subscriptions/strict", environ=environ)
    assert [d.message_id for d in letters] == [sent.message_id] and total == 1
    assert letters[0].reason == "MaxDeliveryCountExceeded"
    assert ids(bus, f"{topic}/Subscriptions/lax") == [sent.message_id]  # untouched there
    with pytest.raises(ValueError, match="not supported yet"):
        resubmit_dead_letters(f"{topic}/Subscriptions/strict", environ=environ)


def test_a_send_that_failed_half_way_can_be_retried_despite_duplicate_detection(
    azurite: Azurite, tmp_path: Path, topic: str
) -> None:
    declaration = declare(tmp_path, topic, {"name": "a"}, {"name": "b"})
    second = QueuePath(topic, subscription="b").storage_queue
    bus = namespace(azurite, declaration, failing=second)
    with pytest.raises(ConnectionError):
        bus.sender(topic, topic=True).send(message("retried"))
    retry = bus.sender(topic, topic=True).send(message("retried"))
    assert retry.accepted
    # "a" got the first attempt's copy too: at least once, never lost.
    assert ids(bus, f"{topic}/Subscriptions/a") == ["retried", "retried"]
    assert ids(bus, f"{topic}/Subscriptions/b") == ["retried"]
    assert not bus.sender(topic, topic=True).send(message("retried")).accepted


def test_a_message_too_large_leaves_no_duplicate_history(
    azurite: Azurite, tmp_path: Path, topic: str
) -> None:
    bus = namespace(azurite, declare(tmp_path, topic, {"name": "a"}))
    with pytest.raises(MessageTooLarge, match="claim check"):
        bus.sender(topic, topic=True).send(message("big", b"x" * 60_000))
    assert bus.sender(topic, topic=True).send(message("big", b"smaller")).accepted


def test_names_resolve_as_in_a_namespace(azurite: Azurite, tmp_path: Path, topic: str) -> None:
    bus = namespace(azurite, declare(tmp_path, topic))
    assert bus.sender(topic, topic=True).send(message()).accepted  # kept by no subscription
    with pytest.raises(EntityNotFound, match="topic 'elsewhere' is not declared"):
        bus.sender("elsewhere", topic=True)
    with pytest.raises(ValueError, match="cannot be sent to"):
        bus.sender(f"{topic}/Subscriptions/a")
    with pytest.raises(ValueError, match="is a topic: receive from one of its subscriptions"):
        bus.receiver(QueuePath(topic))
    with pytest.raises(EntityNotFound, match="has no subscription 'a'"):
        bus.receiver(QueuePath(topic, subscription="a"))
    with pytest.raises(EntityNotFound, match="topic 'elsewhere' is not declared"):
        bus.receiver(QueuePath("elsewhere", subscription="a"))


def test_send_message_reaches_a_declared_topic_by_name(
    azurite: Azurite, tmp_path: Path, topic: str
) -> None:
    environ = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(declare(tmp_path, topic, {"name": "a"})),
    }
    result = send_message(topic, "hello", message_id="m-1", environ=environ)
    assert result.accepted and result.queue == topic
    assert not send_message(topic, "hello", message_id="m-1", topic=True, environ=environ).accepted
    with pytest.raises(EntityNotFound):
        send_message("no-topic", "x", topic=True, environ=environ)
