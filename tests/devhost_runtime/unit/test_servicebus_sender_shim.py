"""The emulator connection string: where devhost sends it, and the SDK shim's scope and mapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.amqp import AmqpAnnotatedMessage
from azure.servicebus.exceptions import MessageSizeExceededError

from devhost.connections import is_development_emulator, resolve_service_bus
from devhost.servicebus import sdk_shim
from devhost.servicebus.sdk_client import (
    MAX_BATCH_BYTES,
    StandInServiceBusClient,
    to_outgoing,
)

EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
NAMESPACE = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v"


@pytest.mark.parametrize(
    ("value", "emulator"),
    [
        (EMULATOR, True),
        (
            "Endpoint=sb://localhost:5673;SharedAccessKeyName=a;SharedAccessKey=b;usedevelopmentemulator=TRUE",
            True,
        ),
        ("UseDevelopmentEmulator = true ; Endpoint=sb://localhost", True),
        (EMULATOR.replace("=true", "=false"), False),
        (NAMESPACE, False),
        ("UseDevelopmentStorage=true", False),
        ("", False),
    ],
)
def test_the_emulator_connection_string_is_recognised(value: str, emulator: bool) -> None:
    assert is_development_emulator(value) is emulator


def test_an_emulator_setting_resolves_to_the_stand_in_like_an_unset_one() -> None:
    assert resolve_service_bus("ServiceBusConnection", {"ServiceBusConnection": EMULATOR}) is None
    assert resolve_service_bus("ServiceBusConnection", {}) is None
    prefixed = {"AzureWebJobsServiceBusConnection": EMULATOR}
    assert resolve_service_bus("ServiceBusConnection", prefixed) is None
    live = resolve_service_bus("ServiceBusConnection", {"ServiceBusConnection": NAMESPACE})
    assert live is not None and live.connection_string == NAMESPACE


@pytest.fixture
def shim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The shim installed in this process, and the SDK as it was afterwards."""
    for cls in (ServiceBusClient, AsyncServiceBusClient):
        # Re-set to itself so that monkeypatch restores the original classmethod at the end.
        monkeypatch.setattr(cls, "from_connection_string", cls.__dict__["from_connection_string"])
    assert sdk_shim.install(tmp_path)
    yield tmp_path


def test_only_emulator_connection_strings_are_diverted(shim: Path) -> None:
    assert sdk_shim.installed()
    assert sdk_shim.install(shim)  # a second install changes nothing
    standin = ServiceBusClient.from_connection_string(EMULATOR)
    assert isinstance(standin, StandInServiceBusClient)
    assert standin.fully_qualified_namespace == "localhost"
    real = ServiceBusClient.from_connection_string(NAMESPACE, retry_total=1)
    assert type(real) is ServiceBusClient  # no network until a sender is used
    assert real.fully_qualified_namespace == "contoso.servicebus.windows.net"
    real.close()
    with pytest.raises(NotImplementedError, match=r"devhost.*azure\.servicebus\.aio"):
        AsyncServiceBusClient.from_connection_string(EMULATOR)
    assert type(AsyncServiceBusClient.from_connection_string(NAMESPACE)) is AsyncServiceBusClient


def test_the_stand_in_client_checks_what_the_sdk_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="blank or malformed"):
        StandInServiceBusClient("UseDevelopmentEmulator=true;garbage", tmp_path)
    with pytest.raises(ValueError, match="blank or malformed"):
        StandInServiceBusClient("SharedAccessKey=x;UseDevelopmentEmulator=true", tmp_path)
    pinned = StandInServiceBusClient(EMULATOR + "EntityPath=replies", tmp_path)
    with pytest.raises(ValueError, match="does not match the EntityPath"):
        pinned.get_queue_sender("orders")
    with pytest.raises(ValueError, match="does not match the EntityPath"):
        pinned.get_topic_sender(topic_name="events")
    assert pinned.get_queue_sender(queue_name="replies").entity_name == "replies"


def test_senders_close_with_their_client_and_refuse_use_after(tmp_path: Path) -> None:
    client = StandInServiceBusClient(EMULATOR, tmp_path)
    with client:
        sender = client.get_topic_sender(topic_name="events")
    with pytest.raises(ValueError, match="already been shutdown"):
        sender.send_messages(ServiceBusMessage("x"))
    with pytest.raises(ValueError, match="already been shutdown"), sender:
        pass


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.get_queue_receiver("q"), "ServiceBusClient.get_queue_receiver"),
        (lambda c: c.get_subscription_receiver("t", "s"), "get_subscription_receiver"),
        (lambda c: c.list_queue_sessions("q"), "list_queue_sessions"),
        (lambda c: c.get_queue_sender("q").schedule_messages([], None), "schedule_messages"),
        (lambda c: c.get_queue_sender("q").cancel_scheduled_messages(1), "cancel_scheduled"),
        (
            lambda c: c.get_queue_sender("q").send_messages(AmqpAnnotatedMessage(data_body=b"x")),
            "AmqpAnnotatedMessage",
        ),
        (
            lambda c: c.get_queue_sender("q").send_messages(
                ServiceBusMessage("x", application_properties={"when": datetime.now(UTC)})
            ),
            "application property 'when' of type datetime",
        ),
    ],
)
def test_what_is_not_emulated_raises_not_implemented(tmp_path: Path, call, name: str) -> None:
    client = StandInServiceBusClient(EMULATOR, tmp_path)
    with pytest.raises(NotImplementedError, match="devhost") as raised:
        call(client)
    assert name in str(raised.value)


def test_wrong_message_types_are_type_errors(tmp_path: Path) -> None:
    sender = StandInServiceBusClient(EMULATOR, tmp_path).get_queue_sender("q")
    with pytest.raises(TypeError, match="got int"):
        sender.send_messages(42)
    with pytest.raises(TypeError, match="got str"):
        sender.send_messages(["not a message"])
    sender.send_messages([])  # nothing to send, as in the SDK: no storage is touched


def test_batches_have_the_sdk_size_accounting_and_standard_tier_limit(tmp_path: Path) -> None:
    sender = StandInServiceBusClient(EMULATOR, tmp_path).get_queue_sender("q")
    assert sender.create_message_batch().max_size_in_bytes == MAX_BATCH_BYTES
    with pytest.raises(ValueError, match="too large"):
        sender.create_message_batch(MAX_BATCH_BYTES + 1)
    small = sender.create_message_batch(300)
    small.add_message(ServiceBusMessage("a"))
    with pytest.raises(MessageSizeExceededError):
        small.add_message(ServiceBusMessage("b" * 300))


def test_every_message_property_is_mapped() -> None:
    later = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = ServiceBusMessage(
        "héllo",
        message_id="m-1",
        correlation_id="c-1",
        content_type="text/plain",
        subject="s",
        reply_to="replies",
        reply_to_session_id="rs",
        to="t",
        session_id="sess",
        application_properties={"a": 1, b"bytes-key": "v", "f": 1.5, "ok": False, "none": None},
        time_to_live=timedelta(seconds=90),
        scheduled_enqueue_time_utc=later,
    )
    outgoing = to_outgoing(message)
    assert outgoing.body == "héllo".encode()
    assert (outgoing.message_id, outgoing.correlation_id) == ("m-1", "c-1")
    assert (outgoing.content_type, outgoing.subject, outgoing.to) == ("text/plain", "s", "t")
    assert (outgoing.reply_to, outgoing.reply_to_session_id) == ("replies", "rs")
    assert outgoing.session_id == "sess"
    assert outgoing.application_properties == {
        "a": 1,
        "bytes-key": "v",
        "f": 1.5,
        "ok": False,
        "none": None,
    }
    assert outgoing.time_to_live == timedelta(seconds=90)
    assert outgoing.scheduled_enqueue_time == later


def test_bodies_and_ids_as_the_sdk_and_the_service_give_them() -> None:
    assert to_outgoing(ServiceBusMessage(b"\x00\xff")).body == b"\x00\xff"
    assert to_outgoing(ServiceBusMessage(None)).body == b""
    naive = to_outgoing(ServiceBusMessage("x", scheduled_enqueue_time_utc=datetime(2030, 1, 1)))
    assert naive.scheduled_enqueue_time == datetime(2030, 1, 1, tzinfo=UTC)
    anonymous = ServiceBusMessage("x")
    anonymous.message_id = None
    first, second = to_outgoing(anonymous), to_outgoing(anonymous)
    assert first.message_id and second.message_id and first.message_id != second.message_id
