"""The real-namespace path of the Service Bus trigger, against a fake azure-servicebus client."""

# No namespace can be reached here, so this checks devhost's side of the boundary only: what it
# asks of the ServiceBusClient, receiver and AutoLockRenewer, and when it settles messages.

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.servicebus import ServiceBusReceiveMode

from devhost.bindings import BindingInputs
from devhost.connections import ServiceBusConnection
from devhost.durable.clock import Clock
from devhost.indexing import IndexedFunction, index_functions
from devhost.invoker import Invoker
from devhost.servicebus import live_ops
from devhost.servicebus.models import OutgoingMessage
from devhost.servicebus.source import ServiceBusSource
from devhost.settings import load_host_options
from devhost.triggers.base import TriggerContext

CONNECTION = "Endpoint=sb://fake.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s"


class FakeMessage:
    """The attributes of azure.servicebus.ServiceBusReceivedMessage that devhost reads."""

    def __init__(self, message_id: str, body: bytes = b"{}", delivery_count: int = 1) -> None:
        self.body = iter([body])  # the SDK gives a generator of data sections
        self.message_id = message_id
        self.delivery_count = delivery_count
        self.sequence_number = 7
        self.enqueued_time_utc = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
        self.expires_at_utc = self.enqueued_time_utc + timedelta(days=14)
        self.lock_token = "9a1f4c3e-0000-4000-8000-000000000001"
        self.application_properties = {b"tenant": b"contoso", b"priority": 2}
        self.content_type = "application/json"
        self.correlation_id = "corr"
        self.reply_to = "replies"
        self.subject = "created"
        self.to = None
        self.session_id = None
        self.reply_to_session_id = None
        self.partition_key = None
        self.dead_letter_source = None


class FakeReceiver:
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


class FakeClient:
    def __init__(self, receiver: FakeReceiver) -> None:
        self.receiver = receiver
        self.asked: dict[str, Any] = {}
        self.connections: list[ServiceBusConnection] = []

    def __call__(self, connection: ServiceBusConnection) -> FakeClient:
        self.connections.append(connection)
        return self

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> FakeReceiver:
        self.asked = {"queue_name": queue_name, **kwargs}
        return self.receiver

    async def close(self) -> None:
        return None


class FakeRenewer:
    def __init__(self) -> None:
        self.registered: list[tuple[str, float]] = []

    def __call__(self) -> FakeRenewer:
        return self

    def register(
        self, receiver: Any, message: FakeMessage, max_lock_renewal_duration: float
    ) -> None:
        self.registered.append((message.message_id, max_lock_renewal_duration))

    async def close(self) -> None:
        return None


GATE = threading.Event()
SEEN: list[dict[str, Any]] = []
RUNNING: list[int] = []
PEAK: list[int] = [0]
LOCK = threading.Lock()


def _functions() -> list[IndexedFunction]:
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="orders", connection="SB")
    def ok(msg: func.ServiceBusMessage) -> None:
        SEEN.append(
            {
                "id": msg.message_id,
                "body": msg.get_body(),
                "props": msg.application_properties,
                "enqueued": msg.enqueued_time_utc,
                "count": msg.delivery_count,
                "lock": msg.lock_token,
            }
        )

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="failing", connection="SB")
    def boom(msg: func.ServiceBusMessage) -> None:
        raise ValueError("cannot handle it")

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="gated", connection="SB")
    def gated(msg: func.ServiceBusMessage) -> None:
        with LOCK:
            RUNNING.append(1)
            PEAK[0] = max(PEAK[0], len(RUNNING))
        GATE.wait(5)
        with LOCK:
            RUNNING.pop()

    return index_functions(app)


FUNCTIONS = {fn.name: fn for fn in _functions()}


@pytest.fixture(autouse=True)
def _reset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SB", CONNECTION)
    SEEN.clear()
    RUNNING.clear()
    PEAK[0] = 0
    GATE.clear()
    yield
    GATE.set()


async def _run(
    tmp_path: Path,
    name: str,
    messages: list[FakeMessage],
    until: Any,
    grace: float = 5.0,
) -> tuple[FakeClient, FakeRenewer]:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "serviceBus": {
                        "maxConcurrentCalls": 2,
                        "maxAutoLockRenewalDuration": "00:02:00",
                    }
                },
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
    client, renewer = FakeClient(FakeReceiver(messages)), FakeRenewer()
    source = ServiceBusSource(
        context, [FUNCTIONS[name]], client_factory=client, renewer_factory=renewer
    )
    await source.start()
    try:
        for _ in range(500):
            if until(client.receiver):
                break
            await asyncio.sleep(0.01)
    finally:
        await source.stop(grace)
        invoker.shutdown()
    return client, renewer


def test_success_completes_and_renews_the_lock(tmp_path: Path) -> None:
    client, renewer = asyncio.run(
        _run(tmp_path, "ok", [FakeMessage("m1", b'{"a": 1}')], lambda r: r.completed)
    )
    assert client.receiver.completed == ["m1"] and client.receiver.abandoned == []
    assert client.connections[0].connection_string == CONNECTION
    assert client.asked["queue_name"] == "orders"
    assert client.asked["receive_mode"] == ServiceBusReceiveMode.PEEK_LOCK
    assert client.asked["sub_queue"] is None and client.asked["prefetch_count"] == 0
    assert renewer.registered == [("m1", 120.0)]  # maxAutoLockRenewalDuration from host.json
    (seen,) = SEEN
    assert seen["body"] == b'{"a": 1}'
    assert seen["props"] == {"tenant": "contoso", "priority": 2}
    assert seen["enqueued"] == datetime(2026, 1, 2, 3, 4, 5, 678000)  # naive UTC, as in Azure
    assert seen["count"] == 1 and seen["lock"] == "9a1f4c3e-0000-4000-8000-000000000001"
    assert client.receiver.closed


def test_failure_abandons_and_never_completes(tmp_path: Path) -> None:
    client, _ = asyncio.run(_run(tmp_path, "boom", [FakeMessage("m2")], lambda r: r.abandoned))
    assert client.receiver.abandoned == ["m2"] and client.receiver.completed == []


def test_max_concurrent_calls_bounds_the_receiver(tmp_path: Path) -> None:
    messages = [FakeMessage(f"g{i}") for i in range(5)]

    def release_when_busy(receiver: FakeReceiver) -> bool:
        if PEAK[0] >= 2:
            GATE.set()
        return len(receiver.completed) == 5

    client, _ = asyncio.run(_run(tmp_path, "gated", messages, release_when_busy))
    assert sorted(client.receiver.completed) == [f"g{i}" for i in range(5)]
    assert PEAK[0] == 2


def test_stop_abandons_what_is_still_running(tmp_path: Path) -> None:
    client, _ = asyncio.run(
        _run(tmp_path, "gated", [FakeMessage("slow")], lambda r: PEAK[0] >= 1, grace=0.2)
    )
    assert client.receiver.abandoned == ["slow"] and client.receiver.completed == []


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.scheduled: list[tuple[Any, datetime]] = []

    def __enter__(self) -> FakeSender:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send_messages(self, message: Any) -> None:
        self.sent.append(message)

    def schedule_messages(self, message: Any, when: datetime) -> list[int]:
        self.scheduled.append((message, when))
        return [42]


class FakeSyncClient:
    def __init__(self) -> None:
        self.sender = FakeSender()
        self.closed = False

    def get_queue_sender(self, queue: str) -> FakeSender:
        assert queue == "orders"
        return self.sender

    def close(self) -> None:
        self.closed = True


def test_sending_to_a_namespace_sets_every_property() -> None:
    client = FakeSyncClient()
    connection = ServiceBusConnection("SB", connection_string=CONNECTION)
    message = OutgoingMessage(
        body=b"hi",
        message_id="id-1",
        correlation_id="c",
        reply_to="replies",
        content_type="text/plain",
        application_properties={"tenant": "contoso"},
    )
    result = live_ops.send(connection, "orders", message, factory=lambda _: client)
    (sent,) = client.sender.sent
    assert result.accepted and result.message_id == "id-1"
    assert sent.message_id == "id-1" and sent.correlation_id == "c"
    assert sent.reply_to == "replies" and sent.content_type == "text/plain"
    assert sent.application_properties == {"tenant": "contoso"}
    assert b"".join(sent.body) == b"hi"
    assert client.closed

    later = datetime.now(UTC) + timedelta(minutes=5)
    scheduled = live_ops.send(
        connection,
        "orders",
        OutgoingMessage(body=b"x", message_id="id-2", scheduled_enqueue_time=later),
        factory=lambda _: client,
    )
    assert scheduled.sequence_number == 42 and client.sender.scheduled[0][1] == later
