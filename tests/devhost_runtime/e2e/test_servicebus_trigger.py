"""Service Bus queue triggers on devhost with the Azurite stand-in: delivery, retries, poison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.servicebus.client import peek_dead_letters, send_message
from devhost.servicebus.models import DeadLetter, SendResult
from devhost.testing import PROJECT_ROOT, DevHostProcess, stand_in_settled, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "servicebus_basic"


@dataclass
class Bus:
    """One devhost on the test app, its journal, and the settings the sender must share."""

    host: DevHostProcess
    journal: Path
    env: dict[str, str]
    fixed_flag: Path

    def send(self, queue: str, body: bytes | str, **kwargs: Any) -> SendResult:
        return send_message(queue, body, app_dir=APP, environ=self.env, **kwargs)

    def entries(self, function: str, message_id: str | None = None) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        rows = [json.loads(line) for line in self.journal.read_text().splitlines() if line]
        return [
            r
            for r in rows
            if r["function"] == function and (message_id is None or r["message_id"] == message_id)
        ]

    def settled(self, path: str) -> bool:
        """Nothing of `path` left in the stand-in: every message completed or dead-lettered."""
        return stand_in_settled(self.env["AzureWebJobsStorage"], path)

    def dead_letters(self, queue: str, message_id: str) -> list[DeadLetter]:
        letters, _ = peek_dead_letters(queue, app_dir=APP, environ=self.env)
        return [d for d in letters if d.message_id == message_id]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        environ = {**os.environ, **self.env, "PYTHONPATH": str(PROJECT_ROOT)}
        return subprocess.run(
            [sys.executable, "-m", "devhost", *args, "--app-dir", str(APP)],
            capture_output=True,
            text=True,
            env=environ,
            cwd=PROJECT_ROOT,
            timeout=60,
            check=False,
        )


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def bus(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    folder = tmp_path_factory.mktemp("servicebus")
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(APP / "servicebus.test.json"),
        "PROPS_QUEUE": "props",
        "SB_JOURNAL": str(folder / "journal.jsonl"),
        "SB_FIXED_FLAG": str(folder / "fixed"),
    }
    host = DevHostProcess(APP, state_dir=folder / "state", env=env)
    host.start()
    try:
        yield Bus(host, folder / "journal.jsonl", env, folder / "fixed")
    finally:
        host.close()


def test_a_function_sees_every_property_the_host_sends(bus: Bus) -> None:
    message_id = new_id()
    scheduled_before = datetime.now(UTC)
    sent = bus.send(
        "props",
        '{"order": 42}',
        message_id=message_id,
        correlation_id="corr-1",
        reply_to="replies",
        content_type="application/json",
        subject="order-created",
        to="fulfilment",
        application_properties={"tenant": "contoso", "priority": 2, "express": True},
    )
    assert sent.accepted and sent.sequence_number is not None
    (seen,) = wait_until(lambda: bus.entries("properties", message_id))
    assert bytes.fromhex(seen["body_hex"]) == b'{"order": 42}'
    assert seen["delivery_count"] == 1
    assert seen["content_type"] == "application/json"
    assert seen["correlation_id"] == "corr-1"
    assert seen["reply_to"] == "replies"
    assert seen["subject"] == seen["label"] == "order-created"
    assert seen["to"] == "fulfilment"
    assert seen["application_properties"] == {"tenant": "contoso", "priority": 2, "express": True}
    assert seen["user_properties"] == seen["application_properties"]
    assert seen["sequence_number"] == sent.sequence_number
    assert uuid.UUID(seen["lock_token"])
    assert seen["session_id"] is None and seen["dead_letter_source"] is None
    # As in Azure: the ...Utc times arrive without an offset, as naive datetimes in UTC.
    assert seen["naive_times"] is True
    enqueued = datetime.fromisoformat(seen["enqueued_time_utc"]).replace(tzinfo=UTC)
    assert scheduled_before - timedelta(seconds=1) <= enqueued <= datetime.now(UTC)
    assert seen["expires_at_utc"].startswith("9999-12-31T23:59:59")  # no TTL declared
    # The host's binding data has none of these; func.ServiceBusMessage gives None in Azure.
    assert set(seen["not_sent_by_the_host"].values()) == {None}
    assert {"UserProperties", "ApplicationProperties", "MessageId", "sys"} <= set(
        seen["metadata_keys"]
    )
    assert "properties: serviceBusTrigger (%PROPS_QUEUE%)" in bus.host.logs()


def test_retries_then_dead_letter_with_reason(bus: Bus) -> None:
    message_id = new_id()
    bus.send("poison", b"order 7", message_id=message_id, correlation_id="c-7")
    wait_until(lambda: len(bus.entries("poison", message_id)) >= 3)
    letters = wait_until(lambda: bus.dead_letters("poison", message_id))
    wait_until(lambda: bus.settled("poison"), what="poison settled")
    deliveries = [e["delivery_count"] for e in bus.entries("poison", message_id)]
    assert deliveries == [1, 2, 3]  # maxDeliveryCount 3 in the test declaration
    (letter,) = letters
    assert letter.reason == "MaxDeliveryCountExceeded"
    assert letter.description == "Message could not be consumed after 3 delivery attempts."
    assert letter.correlation_id == "c-7" and letter.body == b"order 7"
    assert "moved to the dead-letter queue: MaxDeliveryCountExceeded" in bus.host.logs()


def test_abandon_redelivers_at_once(bus: Bus) -> None:
    message_id = new_id()
    bus.send("flaky", "hello", message_id=message_id)
    first, second = wait_until(
        lambda: (rows := bus.entries("flaky", message_id)) and len(rows) == 2 and rows
    )
    assert (first["delivery_count"], second["delivery_count"]) == (1, 2)
    assert second["at"] - first["at"] < 5  # the lock is 30 s: abandon did not wait for it


def test_duplicate_message_ids_are_dropped_within_the_window(bus: Bus) -> None:
    message_id, other = new_id(), new_id()
    assert bus.send("dedup", "one", message_id=message_id).accepted
    second = bus.send("dedup", "two", message_id=message_id)
    assert not second.accepted and second.duplicate_of is not None
    assert bus.send("dedup", "three", message_id=other).accepted
    wait_until(lambda: bus.entries("dedup", other) and bus.settled("dedup"), what="dedup settled")
    (only,) = bus.entries("dedup", message_id)
    assert bytes.fromhex(only["body_hex"]) == b"one"


def test_an_expired_message_is_dead_lettered(bus: Bus) -> None:
    message_id = new_id()
    bus.send("short-lived", "soon stale", message_id=message_id)
    letters = wait_until(lambda: bus.dead_letters("short-lived", message_id), timeout=20)
    assert letters[0].reason == "TTLExpiredException"
    assert len(bus.entries("short_lived", message_id)) == 1  # never delivered after expiry


def test_a_scheduled_message_is_not_delivered_before_its_time(bus: Bus) -> None:
    message_id = new_id()
    due = datetime.now(UTC) + timedelta(seconds=2)
    sent = bus.send("later", "wake up", message_id=message_id, scheduled_enqueue_time=due)
    assert sent.scheduled_enqueue_time == due
    (seen,) = wait_until(lambda: bus.entries("later", message_id), timeout=20)
    assert seen["at"] >= due.timestamp()
    enqueued = datetime.fromisoformat(seen["enqueued_time_utc"]).replace(tzinfo=UTC)
    assert abs((enqueued - due).total_seconds()) < 0.01  # enqueued when it became due
    assert seen["delivery_count"] == 1  # waiting was not a delivery


def test_an_undeclared_queue_runs_with_service_bus_defaults(bus: Bus) -> None:
    message_id = new_id()
    assert bus.send("not-declared", "anything", message_id=message_id).accepted
    wait_until(lambda: bus.entries("undeclared", message_id))
    assert "Queue 'not-declared' is not declared in" in bus.host.logs()
    assert "maxDeliveryCount 10, lockDuration PT1M, no duplicate detection" in bus.host.logs()


def test_a_malformed_body_reaches_the_function_which_decides(bus: Bus) -> None:
    garbage = b"\xff\xfe{not json"
    binary_id, text_id = new_id(), new_id()
    bus.send("raw", garbage, message_id=binary_id)
    bus.send("raw-text", garbage, message_id=text_id)
    (text,) = wait_until(lambda: bus.entries("raw_text", text_id))
    # Without data_type=BINARY the host hands over UTF-8 text, invalid bytes replaced, as Azure.
    assert bytes.fromhex(text["body_hex"]) == garbage.decode("utf-8", "replace").encode()
    assert f"Message '{text_id}' on queue 'raw-text' is not UTF-8 text" in bus.host.logs()
    letters = wait_until(lambda: bus.dead_letters("raw", binary_id))
    seen = bus.entries("raw", binary_id)
    assert [bytes.fromhex(e["body_hex"]) for e in seen] == [garbage, garbage]
    assert letters[0].reason == "MaxDeliveryCountExceeded" and letters[0].body == garbage
    assert "Executed 'Functions.raw' (Failed" in bus.host.logs()


def test_a_str_parameter_gets_the_body_text(bus: Bus) -> None:
    bus.send("plain", "just text")
    wait_until(lambda: [e for e in bus.entries("plain") if e["body"] == "just text"])


def test_dead_letters_command_peeks_and_resubmits(bus: Bus) -> None:
    message_id = new_id()
    sent = bus.cli(
        "send-message",
        "poison",
        "-",
        "--message-id",
        message_id,
        "--correlation-id",
        "corr-cli",
        "--property",
        "tenant=fabrikam",
    )
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["accepted"] is True
    wait_until(lambda: bus.dead_letters("poison", message_id), timeout=20)
    peeked = bus.cli("dead-letters", "poison", "--peek")
    (shown,) = [json.loads(line) for line in peeked.stdout.splitlines() if message_id in line]
    assert shown["deadLetterReason"] == "MaxDeliveryCountExceeded"
    assert shown["correlationId"] == "corr-cli"
    assert shown["applicationProperties"]["tenant"] == "fabrikam"
    assert shown["deliveryCount"] == 3

    bus.fixed_flag.touch()  # the bug is fixed: the resubmitted message now succeeds
    try:
        resubmitted = bus.cli("dead-letters", "poison", "--resubmit", message_id)
        assert resubmitted.returncode == 0, resubmitted.stderr
        done = json.loads(resubmitted.stdout.splitlines()[0])
        assert done["resubmitted"] is True and done["messageId"] == message_id
        assert "resubmitted 1 of 1" in resubmitted.stderr
        ok = wait_until(
            lambda: [
                e
                for e in bus.entries("poison", message_id)
                if e["props"].get("tenant") == "fabrikam" and "DeadLetterReason" not in e["props"]
            ]
        )
        assert ok[0]["delivery_count"] == 1 and ok[0]["correlation_id"] == "corr-cli"
        assert message_id not in bus.cli("dead-letters", "poison", "--peek").stdout
    finally:
        bus.fixed_flag.unlink()


def test_resubmitting_an_unknown_id_is_an_error(bus: Bus) -> None:
    result = bus.cli("dead-letters", "poison", "--resubmit", "no-such-id")
    assert result.returncode == 1
    assert "no dead letter with message id 'no-such-id'" in result.stderr


def test_a_message_starts_an_orchestration_through_the_durable_client(bus: Bus) -> None:
    message_id = new_id()
    bus.send("workflows", "order 9", message_id=message_id)
    wait_until(lambda: bus.host.status(message_id))
    status = bus.host.wait_for(message_id, timeout=15)
    assert status["runtimeStatus"] == "Completed" and status["output"] == "order 9"


def test_output_bindings_send_after_success(bus: Bus) -> None:
    bus.send("requests", "hello")
    (reply,) = wait_until(
        lambda: [e for e in bus.entries("answers") if bytes.fromhex(e["body_hex"]) == b"re: hello"]
    )
    assert reply["content_type"] == "text/plain"  # what the extension sets for a string
