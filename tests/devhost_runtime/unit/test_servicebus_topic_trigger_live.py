"""Topic-subscription triggers: the binding's entity path, and the real-namespace receiver.

No namespace can be reached here, so the live half fakes only the azure-servicebus client
boundary (as test_servicebus_live.py does) and checks what devhost asks of it and when it
settles.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

from devhost.bindings import BindingInputs
from devhost.durable.clock import Clock
from devhost.indexing import IndexedFunction, index_functions
from devhost.invoker import Invoker
from devhost.servicebus.names import QueuePath
from devhost.servicebus.options import HostServiceBusOptions, Refused, trigger_binding
from devhost.servicebus.source import ServiceBusSource
from devhost.settings import load_host_options
from devhost.triggers.base import TriggerContext

CONNECTION = "Endpoint=sb://fake.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s"
SEEN: list[dict[str, Any]] = []


class FakeMessage:
    """The attributes of azure.servicebus.ServiceBusReceivedMessage that devhost reads."""

    def __init__(self, message_id: str, body: bytes = b"{}", delivery_count: int = 1) -> None:
        self.body = iter([body])  # the SDK gives a generator of data sections
        self.message_id = message_id
        self.delivery_count = delivery_count
        self.sequence_number = 7
        self.enqueued_time_utc = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        self.expires_at_utc = self.enqueued_time_utc + timedelta(days=14)
        self.lock_token = "9a1f4c3e-0000-4000-8000-000000000002"
        self.application_properties = {b"kind": b"shipped"}
        self.content_type = "application/json"
        self.correlation_id = "corr"
        self.reply_to = self.subject = self.to = self.session_id = None
        self.reply_to_session_id = self.partition_key = self.dead_letter_source = None


class FakeReceiver:
    """An aio ServiceBusReceiver: hands out its messages once and records settlements."""

    def __init__(self, messages: list[FakeMessage]) -> None:
        self.pending = list(messages)
        self.completed: list[str] = []
        self.abandoned: list[str] = []
        self.closed = False

    async def receive_messages(self, max_message_count: int, max_wait_time: float) -> list[Any]:
        batch, self.pending = self.pending[:max_message_count], self.pending[max_message_count:]
        if not batch:
            await asyncio.sleep(0.01)
        return batch

    async def complete_message(self, message: FakeMessage) -> None:
        self.completed.append(message.message_id)

    async def abandon_message(self, message: FakeMessage) -> None:
        self.abandoned.append(message.message_id)

    async def close(self) -> None:
        self.closed = True


class FakeRenewer:
    """An aio AutoLockRenewer that records what it was asked to keep locked."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, float]] = []

    def register(
        self, receiver: Any, message: FakeMessage, max_lock_renewal_duration: float
    ) -> None:
        self.registered.append((message.message_id, max_lock_renewal_duration))

    async def close(self) -> None:
        return None


class FakeSubscriptionClient:
    """An aio ServiceBusClient that only hands out subscription receivers."""

    def __init__(self, receiver: FakeReceiver) -> None:
        self.receiver = receiver
        self.asked: dict[str, Any] = {}

    def __call__(self, connection: Any) -> FakeSubscriptionClient:
        return self

    def get_subscription_receiver(
        self, topic_name: str, subscription_name: str, **kwargs: Any
    ) -> FakeReceiver:
        self.asked = {"topic_name": topic_name, "subscription_name": subscription_name, **kwargs}
        return self.receiver

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> FakeReceiver:
        raise AssertionError(f"a subscription trigger opened queue receiver '{queue_name}'")

    async def close(self) -> None:
        return None


def _functions() -> dict[str, IndexedFunction]:
    app = func.FunctionApp()

    @app.service_bus_topic_trigger(
        arg_name="msg", topic_name="%TOPIC%", subscription_name="audit", connection="SB"
    )
    def audit(msg: func.ServiceBusMessage) -> None:
        SEEN.append({"id": msg.message_id, "body": msg.get_body(), "count": msg.delivery_count})

    @app.service_bus_topic_trigger(
        arg_name="msg", topic_name="events", subscription_name="billing", connection="SB"
    )
    def billing(msg: func.ServiceBusMessage) -> None:
        raise RuntimeError("billing failed")

    @app.service_bus_topic_trigger(
        arg_name="msg",
        topic_name="events",
        subscription_name="billing/$deadletterqueue",
        connection="SB",
    )
    def billing_dead_letters(msg: func.ServiceBusMessage) -> None:
        SEEN.append({"id": msg.message_id})

    return {fn.name: fn for fn in index_functions(app)}


FUNCTIONS = _functions()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SB", CONNECTION)
    monkeypatch.setenv("TOPIC", "events")
    SEEN.clear()


async def _run(
    tmp_path: Path, name: str, messages: list[FakeMessage], until: Any
) -> tuple[FakeSubscriptionClient, FakeRenewer]:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {"serviceBus": {"maxAutoLockRenewalDuration": "00:01:30"}},
            }
        )
    )
    loop = asyncio.get_running_loop()
    invoker = Invoker(loop, str(tmp_path))
    context = TriggerContext(
        invoker,
        BindingInputs(lambda: "{}"),
        tmp_path,
        Clock(),
        "http://localhost",
        tmp_path,
        load_host_options(tmp_path),
    )
    client, renewer = FakeSubscriptionClient(FakeReceiver(messages)), FakeRenewer()
    source = ServiceBusSource(
        context, [FUNCTIONS[name]], client_factory=client, renewer_factory=lambda: renewer
    )
    await source.start()
    try:
        for _ in range(500):
            if until(client.receiver):
                break
            await asyncio.sleep(0.01)
        assert source.status()[name]["entity"] == str(
            trigger_binding(FUNCTIONS[name], HostServiceBusOptions()).path
        )
    finally:
        await source.stop(5.0)
        invoker.shutdown()
    return client, renewer


def test_a_subscription_trigger_opens_a_subscription_receiver_and_completes(
    tmp_path: Path,
) -> None:
    client, renewer = asyncio.run(
        _run(tmp_path, "audit", [FakeMessage("m1", b"shipped")], lambda r: r.completed)
    )
    assert client.asked == {
        "topic_name": "events",  # %TOPIC% resolved
        "subscription_name": "audit",
        "sub_queue": None,
        "receive_mode": ServiceBusReceiveMode.PEEK_LOCK,
        "prefetch_count": 0,
    }
    assert client.receiver.completed == ["m1"] and client.receiver.abandoned == []
    assert renewer.registered == [("m1", 90.0)]
    assert SEEN == [{"id": "m1", "body": b"shipped", "count": 1}]
    assert client.receiver.closed


def test_a_failing_subscription_trigger_abandons_for_the_namespace_to_count(
    tmp_path: Path,
) -> None:
    # Service Bus itself counts deliveries and dead-letters after the subscription's
    # maxDeliveryCount; devhost's part is to abandon, never complete.
    client, _ = asyncio.run(
        _run(tmp_path, "billing", [FakeMessage("m2", delivery_count=2)], lambda r: r.abandoned)
    )
    assert client.asked["subscription_name"] == "billing"
    assert client.receiver.abandoned == ["m2"] and client.receiver.completed == []


def test_a_trigger_on_a_subscriptions_dead_letters_opens_that_sub_queue(tmp_path: Path) -> None:
    client, _ = asyncio.run(
        _run(tmp_path, "billing_dead_letters", [FakeMessage("d1")], lambda r: r.completed)
    )
    assert client.asked["topic_name"] == "events"
    assert client.asked["subscription_name"] == "billing"
    assert client.asked["sub_queue"] == ServiceBusSubQueue.DEAD_LETTER
    assert client.receiver.completed == ["d1"]


def one_topic_function(**trigger: Any) -> IndexedFunction:
    app = func.FunctionApp()

    @app.service_bus_topic_trigger(arg_name="msg", connection="SB", **trigger)
    def fn(msg: func.ServiceBusMessage) -> None:
        pass

    return index_functions(app)[0]


def test_topic_and_subscription_names_resolve_app_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUB", "audit")
    fn = one_topic_function(topic_name="%TOPIC%", subscription_name="%SUB%")
    binding = trigger_binding(fn, HostServiceBusOptions())
    assert binding.path == QueuePath("events", subscription="audit")
    assert str(binding.path) == "events/Subscriptions/audit"


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            {"topic_name": "t", "subscription_name": "s", "cardinality": func.Cardinality.MANY},
            "cardinality 'many'",
        ),
        (
            {"topic_name": "t", "subscription_name": "s", "is_sessions_enabled": True},
            "session-enabled queues and subscriptions",
        ),
        ({"topic_name": "t", "subscription_name": "%UNSET_SUB%"}, "UNSET_SUB"),
        ({"topic_name": "t", "subscription_name": "no spaces"}, "not a valid Service Bus sub"),
        ({"topic_name": "t/Subscriptions/s", "subscription_name": "s"}, "not a topic name"),
    ],
)
def test_topic_triggers_devhost_cannot_run_are_refused(trigger: dict, message: str) -> None:
    with pytest.raises(Refused, match=message):
        trigger_binding(one_topic_function(**trigger), HostServiceBusOptions())
