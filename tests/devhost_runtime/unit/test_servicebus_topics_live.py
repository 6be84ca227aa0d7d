"""Topics, subscriptions and receiving against a real namespace: what devhost asks of the SDK.

No namespace is reachable here, so a fake stands at the azure-servicebus client boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

from devhost.connections import ServiceBusConnection
from devhost.servicebus import live_ops
from devhost.servicebus.models import OutgoingMessage
from devhost.servicebus.names import QueuePath

CONNECTION = ServiceBusConnection(
    "SB", "Endpoint=sb://fake.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s"
)


class Received:
    """The attributes of a ServiceBusReceivedMessage that devhost reads."""

    def __init__(self, message_id: str) -> None:
        self.body = iter([b"payload"])
        self.message_id = message_id
        self.delivery_count = 0
        self.sequence_number = 11
        self.enqueued_time_utc = datetime(2026, 1, 2, tzinfo=UTC)
        self.expires_at_utc = self.enqueued_time_utc + timedelta(days=14)
        self.lock_token = None
        self.application_properties = {b"kind": b"shipped"}
        self.content_type = "application/json"
        self.correlation_id = "corr"
        self.reply_to = self.subject = self.to = self.session_id = None
        self.reply_to_session_id = self.partition_key = self.dead_letter_source = None


class Handler:
    """A fake sender or receiver that records what it was asked."""

    def __init__(self, **opened: Any) -> None:
        self.opened = opened
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __enter__(self) -> Handler:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send_messages(self, message: Any) -> None:
        self.calls.append(("send", {"message": message}))

    def peek_messages(self, **kwargs: Any) -> list[Received]:
        self.calls.append(("peek", kwargs))
        return [Received("p-1")]

    def receive_messages(self, **kwargs: Any) -> list[Received]:
        self.calls.append(("receive", kwargs))
        return [Received("r-1"), Received("r-2")]


class Client:
    def __init__(self) -> None:
        self.handlers: list[tuple[str, tuple[Any, ...], Handler]] = []
        self.closed = False

    def _open(self, kind: str, *names: Any, **options: Any) -> Handler:
        handler = Handler(**options)
        self.handlers.append((kind, names, handler))
        return handler

    def get_topic_sender(self, topic: str) -> Handler:
        return self._open("topic_sender", topic)

    def get_queue_receiver(self, queue: str, **options: Any) -> Handler:
        return self._open("queue_receiver", queue, **options)

    def get_subscription_receiver(self, topic: str, name: str, **options: Any) -> Handler:
        return self._open("subscription_receiver", topic, name, **options)

    def close(self) -> None:
        self.closed = True


def test_a_topic_send_uses_a_topic_sender() -> None:
    client = Client()
    message = OutgoingMessage(body=b"x", message_id="m-1", correlation_id="c")
    result = live_ops.send(CONNECTION, "order-events", message, lambda _: client, topic=True)
    ((kind, names, sender),) = client.handlers
    assert (kind, names) == ("topic_sender", ("order-events",))
    assert sender.calls[0][1]["message"].correlation_id == "c"
    assert result.accepted and client.closed


def test_receiving_from_a_subscription_deletes_what_it_receives() -> None:
    client = Client()
    path = QueuePath.parse("order-events/Subscriptions/all")
    got = live_ops.receive(CONNECTION, path, 5, 0.0, factory=lambda _: client)
    ((kind, names, receiver),) = client.handlers
    assert (kind, names) == ("subscription_receiver", ("order-events", "all"))
    assert receiver.opened == {
        "sub_queue": None,
        "receive_mode": ServiceBusReceiveMode.RECEIVE_AND_DELETE,
    }
    # The SDK waits forever for None and refuses 0: devhost asks for a short wait instead.
    assert receiver.calls == [("receive", {"max_message_count": 5, "max_wait_time": 0.1})]
    assert [m.message_id for m in got] == ["r-1", "r-2"]
    assert got[0].body == b"payload" and got[0].application_properties == {"kind": "shipped"}
    assert client.closed


def test_peeking_at_a_dead_letter_queue_leaves_the_messages() -> None:
    client = Client()
    path = QueuePath.parse("replies/$deadletterqueue")
    got = live_ops.receive(CONNECTION, path, 3, 2.0, peek=True, factory=lambda _: client)
    ((kind, names, receiver),) = client.handlers
    assert (kind, names) == ("queue_receiver", ("replies",))
    assert receiver.opened["sub_queue"] == ServiceBusSubQueue.DEAD_LETTER
    assert receiver.calls == [("peek", {"max_message_count": 3})]
    assert [m.message_id for m in got] == ["p-1"]


def test_a_subscription_dead_letter_peek_opens_the_subscription_dead_letters() -> None:
    client = Client()
    path = QueuePath.parse("order-events/Subscriptions/all")
    assert live_ops.peek_dead_letters(CONNECTION, path, lambda _: client)[0].message_id == "p-1"
    ((kind, names, receiver),) = client.handlers
    assert (kind, names) == ("subscription_receiver", ("order-events", "all"))
    assert receiver.opened == {"sub_queue": ServiceBusSubQueue.DEAD_LETTER}
