"""A received message turned into what the host sends, decoded by the library's own converter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.functions as func
from azure.functions.servicebus import ServiceBusMessageInConverter

from devhost.servicebus.messages import dotnet_datetime, trigger_data, trigger_metadata
from devhost.servicebus.models import ReceivedMessage

ENQUEUED = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


def received(**overrides: object) -> ReceivedMessage:
    fields: dict = {
        "body": b'{"order": 1}',
        "message_id": "m-1",
        "delivery_count": 3,
        "sequence_number": 12,
        "enqueued_time": ENQUEUED,
        "expires_at": ENQUEUED + timedelta(days=14),
        "lock_token": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "application_properties": {"tenant": "contoso", "n": 2},
        "content_type": "application/json",
        "correlation_id": "corr",
        "reply_to": "replies",
        "subject": "created",
        "to": "fulfilment",
        "session_id": "s-1",
        "reply_to_session_id": "rs-1",
        "partition_key": "pk",
        "transaction_partition_key": "tpk",
    }
    fields.update(overrides)
    return ReceivedMessage(**fields)


def decode(message: ReceivedMessage, *, binary: bool = False) -> func.ServiceBusMessage:
    return ServiceBusMessageInConverter.decode(
        trigger_data(message, binary=binary),
        trigger_metadata=trigger_metadata(message, "fn"),
    )


def test_every_property_the_host_sends_reaches_func_servicebusmessage() -> None:
    msg = decode(received())
    assert msg.get_body() == b'{"order": 1}'
    assert msg.message_id == "m-1"
    assert msg.delivery_count == 3
    assert msg.sequence_number == 12
    assert msg.content_type == "application/json"
    assert msg.correlation_id == "corr"
    assert msg.reply_to == "replies"
    assert msg.subject == msg.label == "created"
    assert msg.to == "fulfilment"
    assert msg.session_id == "s-1" and msg.reply_to_session_id == "rs-1"
    assert msg.partition_key == "pk" and msg.transaction_partition_key == "tpk"
    assert msg.lock_token == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert msg.application_properties == msg.user_properties == {"tenant": "contoso", "n": 2}
    # Naive datetimes holding UTC clock time, as the worker gives them in Azure.
    assert msg.enqueued_time_utc == datetime(2026, 3, 4, 5, 6, 7, 891000)
    assert msg.expires_at_utc == datetime(2026, 3, 18, 5, 6, 7, 891000)
    assert msg.metadata is not None and msg.metadata["sys"]["MethodName"] == "fn"
    assert msg.metadata["EnqueuedTime"] == "2026-03-04T05:06:07.891+00:00"


def test_what_the_host_does_not_send_stays_none() -> None:
    msg = decode(received())
    assert msg.time_to_live is None
    assert msg.scheduled_enqueue_time_utc is None
    assert msg.locked_until is None
    assert msg.dead_letter_reason is None and msg.dead_letter_error_description is None
    assert msg.enqueued_sequence_number is None and msg.state is None


def test_null_values_are_not_sent() -> None:
    metadata = trigger_metadata(received(to=None, session_id=None), "fn")
    assert "To" not in metadata and "SessionId" not in metadata
    assert "DeadLetterSource" not in metadata
    assert decode(received(to=None)).to is None


def test_dates_are_written_as_newtonsoft_writes_them() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert dotnet_datetime(moment, offset=False) == "2026-01-02T03:04:05"
    assert dotnet_datetime(moment, offset=True) == "2026-01-02T03:04:05+00:00"
    assert dotnet_datetime(moment.replace(microsecond=120000), offset=False).endswith(":05.12")
    never = datetime.max.replace(tzinfo=UTC)
    assert dotnet_datetime(never, offset=True) == "9999-12-31T23:59:59.9999999+00:00"
    assert decode(received(expires_at=never)).expires_at_utc.year == 9999


def test_a_body_that_is_not_utf8_arrives_as_azure_delivers_it() -> None:
    garbage = b"\xff\x00ok"
    assert decode(received(body=garbage)).get_body() == "\ufffd\x00ok".encode()
    assert decode(received(body=garbage), binary=True).get_body() == garbage


def test_an_empty_body_is_an_empty_body() -> None:
    assert decode(received(body=b"")).get_body() == b""
