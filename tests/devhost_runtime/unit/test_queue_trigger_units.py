"""Queue trigger pieces without storage: host.json options, names, backoff, message conversion."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.functions import meta
from azure.functions.queue import QueueMessageInConverter

from devhost.queues.backoff import PollingBackoff
from devhost.queues.message import (
    InvalidEncoding,
    Received,
    decode_body,
    encode_body,
    trigger_data,
    trigger_metadata,
)
from devhost.queues.names import InvalidQueueName, poison_queue_name, trigger_queue_name
from devhost.queues.options import QueueOptionsError, QueueTriggerOptions, timespan_seconds
from devhost.queues.outputs import bodies


def options(**queues: object) -> QueueTriggerOptions:
    return QueueTriggerOptions.from_host_json({"version": "2.0", "extensions": {"queues": queues}})


def test_defaults_are_the_extensions() -> None:
    parsed = QueueTriggerOptions.from_host_json({"version": "2.0"})
    assert parsed.batch_size == 16
    assert parsed.new_batch_threshold == 8 * (os.cpu_count() or 1)  # BatchSize/2 per processor
    assert parsed.visibility_timeout == 0.0
    assert parsed.max_polling_interval == 60.0
    assert parsed.max_dequeue_count == 5
    assert parsed.message_encoding == "base64"


def test_options_are_read_and_the_threshold_follows_the_batch_size() -> None:
    parsed = options(
        batchSize=20,
        maxDequeueCount=2,
        visibilityTimeout="00:00:30",
        maxPollingInterval="00:00:00.5",
        messageEncoding="None",
    )
    assert parsed.batch_size == 20
    assert parsed.new_batch_threshold == 10 * (os.cpu_count() or 1)
    assert parsed.visibility_timeout == 30.0
    assert parsed.max_polling_interval == 0.5
    assert parsed.max_dequeue_count == 2
    assert parsed.message_encoding == "none"
    assert options(newBatchThreshold=0).new_batch_threshold == 0


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ({"batchSize": 33}, "batchSize must be 1 to 32"),
        ({"batchSize": 0}, "batchSize must be 1 to 32"),
        ({"batchSize": "4"}, "batchSize must be an integer"),
        ({"newBatchThreshold": -1}, "newBatchThreshold must be zero or more"),
        ({"maxDequeueCount": 0}, "maxDequeueCount must be at least 1"),
        ({"maxPollingInterval": "00:00:00.05"}, "must not be less than 00:00:00.1"),
        ({"maxPollingInterval": 2000}, "a bare number would mean days"),
        ({"visibilityTimeout": "30 seconds"}, "must be a TimeSpan"),
        ({"messageEncoding": "utf8"}, 'must be "base64" or "none"'),
    ],
)
def test_bad_options_are_refused_with_the_option_named(
    queues: dict[str, object], message: str
) -> None:
    with pytest.raises(QueueOptionsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        options(**queues)


def test_timespans() -> None:
    assert timespan_seconds("1.02:03:04.5", "x") == 86400 + 2 * 3600 + 3 * 60 + 4.5
    assert timespan_seconds("00:10", "x") == 600
    with pytest.raises(QueueOptionsError, match="out of range"):
        timespan_seconds("00:61:00", "x")


def test_queue_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_QUEUE", "Orders-In")
    assert trigger_queue_name("%ORDERS_QUEUE%") == "orders-in"  # lowercased, as the host does
    assert trigger_queue_name("app-%ORDERS_QUEUE%") == "app-orders-in"
    with pytest.raises(InvalidQueueName, match="consecutive dash"):
        trigger_queue_name("a--b")
    with pytest.raises(InvalidQueueName, match="from 3 to 63 characters"):
        trigger_queue_name("ab")
    with pytest.raises(InvalidQueueName, match="may not be the first or last"):
        trigger_queue_name("-ab")
    assert poison_queue_name("orders") == "orders-poison"
    assert poison_queue_name("orders-poison") is None  # a poison queue has none
    assert poison_queue_name("a" * 60) is None  # "-poison" would pass 63 characters


def test_backoff_schedule_grows_to_the_maximum_and_resets_when_messages_arrive() -> None:
    backoff = PollingBackoff(0.1, 1.0, uniform=lambda low, high: 1.0)
    idle = [round(backoff.next_delay(False), 3) for _ in range(6)]
    # 100 ms, then 100 ms + 2^(n-1) * 100 ms, capped at maxPollingInterval.
    assert idle == [0.1, 0.2, 0.3, 0.5, 0.9, 1.0]
    assert backoff.next_delay(False) == 1.0
    assert backoff.next_delay(True) == 0.1
    assert round(backoff.next_delay(False), 3) == 0.2  # from the start again


def test_backoff_randomization_stays_within_twenty_percent() -> None:
    low = PollingBackoff(0.1, 60.0, uniform=lambda a, b: a)
    high = PollingBackoff(0.1, 60.0, uniform=lambda a, b: b)
    low.next_delay(False), high.next_delay(False)
    assert round(low.next_delay(False), 3) == 0.18 and round(high.next_delay(False), 3) == 0.22
    with pytest.raises(ValueError, match="must not exceed"):
        PollingBackoff(2.0, 1.0)


def test_bodies_decode_per_encoding() -> None:
    assert decode_body(base64.b64encode(b"\x00\xff").decode(), "base64") == b"\x00\xff"
    assert decode_body("aGVs\r\nbG8=", "base64") == b"hello"  # .NET skips line breaks too
    with pytest.raises(InvalidEncoding, match="not valid Base64"):
        decode_body("hello!", "base64")
    assert decode_body("plain", "none") == b"plain"
    assert encode_body(b"hi", "base64") == "aGk="
    assert encode_body(b"hi", "none") == "hi"
    with pytest.raises(InvalidEncoding, match="must be UTF-8 text"):
        encode_body(b"\xff", "none")


def test_the_workers_converter_builds_the_queue_message() -> None:
    received = Received(
        message_id="id-1",
        pop_receipt="receipt",
        dequeue_count=3,
        content="",
        inserted_on=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        expires_on=datetime(2024, 5, 8, 12, 0, tzinfo=UTC),
        next_visible_on=datetime(2024, 5, 1, 12, 10, tzinfo=UTC),
    )
    metadata = trigger_metadata(received, "héllo".encode(), "fn")
    assert metadata["DequeueCount"] == meta.Datum("3", "json")  # a long goes as JSON
    assert metadata["InsertionTime"].value == '"2024-05-01T12:00:00+00:00"'
    assert metadata["QueueTrigger"] == meta.Datum("héllo", "string")
    assert json.loads(metadata["sys"].value)["MethodName"] == "fn"
    message = QueueMessageInConverter.decode(
        trigger_data("héllo".encode(), binary=False), trigger_metadata=metadata
    )
    assert message.id == "id-1" and message.pop_receipt == "receipt"
    assert message.get_body() == "héllo".encode()
    assert message.dequeue_count == 3
    assert message.insertion_time == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert message.expiration_time == datetime(2024, 5, 8, 12, 0, tzinfo=UTC)
    assert message.time_next_visible == datetime(2024, 5, 1, 12, 10, tzinfo=UTC)


def test_missing_times_become_the_extensions_stand_ins() -> None:
    received = Received("id", "r", 1, "", None, None, None)
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    metadata = trigger_metadata(received, b"x", "fn", now=now)
    message = QueueMessageInConverter.decode(
        trigger_data(b"\xff", binary=True), trigger_metadata=metadata
    )
    assert message.get_body() == b"\xff"
    assert message.insertion_time == now
    assert message.expiration_time is not None and message.expiration_time.year == 9999
    assert trigger_data(b"\xff", binary=False).value == "\ufffd"  # as the host's string binding


def test_output_values_become_message_bodies() -> None:
    assert bodies(meta.Datum("text", "string"), "p") == [b"text"]
    assert bodies(meta.Datum(b"\x00", "bytes"), "p") == [b"\x00"]
    assert bodies(meta.Datum(json.dumps(["a", "b"]), "json"), "p") == [b"a", b"b"]
    [jobject] = bodies(meta.Datum(json.dumps({"id": None, "body": "x"}), "json"), "parent")
    assert json.loads(jobject) == {"id": None, "body": "x", "$AzureWebJobsParentId": "parent"}
    assert jobject.startswith(b'{\n  "id": null')  # JObject.ToString(): indented


def test_no_queue_output_is_sent_when_any_message_is_too_large(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from devhost import indexing, invoker
    from devhost.queues import outputs

    opened: list[str] = []
    monkeypatch.setattr(outputs, "_queue_service", lambda connection: opened.append(connection))
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    fn = indexing.IndexedFunction(
        name="fan",
        function_id="fan",
        user_function=lambda: None,
        bindings=[
            {"type": "httpTrigger", "direction": "in", "name": "req"},
            {"type": "queue", "direction": "out", "name": "first", "queueName": "small"},
            {"type": "queue", "direction": "out", "name": "second", "queueName": "large"},
        ],
        type_hints={},
        wants_context=False,
        is_async=False,
    )
    result = invoker.InvocationResult(
        return_value=None,
        outputs={
            "first": meta.Datum(json.dumps(["ok", "fine"]), "json"),
            "second": meta.Datum(json.dumps(["ok", "x" * 70_000]), "json"),
        },
        duration_ms=1.0,
    )
    with pytest.raises(ValueError, match=r"queue 'large' is \d+ bytes as stored"):
        outputs._send(fn, result, tmp_path)
    assert opened == []  # checked before anything went out: no queue was even opened
