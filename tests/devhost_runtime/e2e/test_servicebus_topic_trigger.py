"""Service Bus topic-subscription triggers on devhost with the Azurite stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.servicebus.client import peek_dead_letters, send_message
from devhost.servicebus.models import DeadLetter, SendResult
from devhost.testing import PROJECT_ROOT, DevHostProcess, stand_in_settled, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "servicebus_topics"
TOPIC = "tt-events"
AUDIT, BILLING = f"{TOPIC}/Subscriptions/audit", f"{TOPIC}/Subscriptions/billing"


@dataclass
class Bus:
    """One devhost on the topics app, its journal, and the settings senders must share."""

    host: DevHostProcess
    journal: Path
    env: dict[str, str]

    def send(self, topic: str, body: bytes | str, **kwargs: Any) -> SendResult:
        return send_message(topic, body, topic=True, app_dir=APP, environ=self.env, **kwargs)

    def entries(self, function: str, message_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in rows(self.journal)
            if r["function"] == function and (message_id is None or r["message_id"] == message_id)
        ]

    def settled(self, *paths: str) -> bool:
        """Nothing of `paths` left in the stand-in: every copy completed or dead-lettered."""
        return all(stand_in_settled(self.env["AzureWebJobsStorage"], path) for path in paths)

    def dead_letters(self, entity: str, message_id: str) -> list[DeadLetter]:
        letters, _ = peek_dead_letters(entity, app_dir=APP, environ=self.env)
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


def rows(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line]


def new_id() -> str:
    return uuid.uuid4().hex


def settings(azurite: Azurite, journal: Path) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(APP / "servicebus.test.json"),
        "EVENTS_TOPIC": TOPIC,
        "AUDIT_SUBSCRIPTION": "audit",
        "SLOW_TOPIC": "tt-slow",
        "SB_JOURNAL": str(journal),
    }


@pytest.fixture(scope="module")
def bus(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    folder = tmp_path_factory.mktemp("servicebus-topics")
    env = settings(azurite, folder / "journal.jsonl")
    host = DevHostProcess(APP, state_dir=folder / "state", env=env)
    host.start()
    try:
        yield Bus(host, folder / "journal.jsonl", env)
    finally:
        host.close()


def test_one_send_runs_each_subscription_trigger_once_with_every_field(bus: Bus) -> None:
    message_id = new_id()
    before = datetime.now(UTC)
    sent = bus.send(
        TOPIC,
        '{"event": "shipped"}',
        message_id=message_id,
        correlation_id="corr-1",
        reply_to="replies",
        content_type="application/json",
        subject="order-shipped",
        to="warehouse",
        application_properties={"tenant": "contoso", "step": 3},
    )
    assert sent.accepted and sent.sequence_number is not None
    (seen,) = wait_until(lambda: bus.entries("audit", message_id))
    (billed,) = wait_until(lambda: bus.entries("billing", message_id))
    wait_until(lambda: bus.settled(AUDIT, BILLING), what="both copies settled")  # no more come
    assert len(bus.entries("audit", message_id)) == len(bus.entries("billing", message_id)) == 1
    assert seen["body"] == billed["body"] == '{"event": "shipped"}'
    assert seen["delivery_count"] == billed["delivery_count"] == 1
    # One sequence number, given by the topic, on every subscription's copy.
    assert seen["sequence_number"] == billed["sequence_number"] == sent.sequence_number
    assert seen["content_type"] == "application/json"
    assert seen["correlation_id"] == "corr-1" and seen["reply_to"] == "replies"
    assert seen["subject"] == "order-shipped" and seen["to"] == "warehouse"
    assert seen["application_properties"] == {"tenant": "contoso", "step": 3}
    assert uuid.UUID(seen["lock_token"])
    assert seen["naive_times"] is True
    enqueued = datetime.fromisoformat(seen["enqueued_time_utc"]).replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= enqueued <= datetime.now(UTC)
    assert seen["expires_at_utc"].startswith("9999-12-31T23:59:59")  # no TTL declared
    assert {"DeliveryCount", "MessageId", "SequenceNumber", "sys"} <= set(seen["metadata_keys"])
    logs = bus.host.logs()
    # %EVENTS_TOPIC% and %AUDIT_SUBSCRIPTION% were resolved from app settings.
    assert "audit: serviceBusTrigger (%EVENTS_TOPIC%/Subscriptions/%AUDIT_SUBSCRIPTION%)" in logs
    assert (
        "Service Bus trigger 'audit' listens on subscription 'tt-events/Subscriptions/audit'"
        in (logs)
    )
    assert "duplicate detection PT1M at topic 'tt-events'" in logs


def test_failures_redeliver_then_dead_letter_in_that_subscription_only(bus: Bus) -> None:
    message_id = new_id()
    bus.send(
        TOPIC,
        "bad event",
        message_id=message_id,
        correlation_id="c-9",
        application_properties={"billing": "broken"},
    )
    letters = wait_until(
        lambda: bus.dead_letters(f"{TOPIC}/Subscriptions/billing", message_id), timeout=20
    )
    wait_until(lambda: bus.settled(AUDIT, BILLING), what="both copies settled")
    assert [e["delivery_count"] for e in bus.entries("billing", message_id)] == [1, 2, 3]
    (letter,) = letters
    assert letter.reason == "MaxDeliveryCountExceeded"
    assert letter.description == "Message could not be consumed after 3 delivery attempts."
    assert letter.correlation_id == "c-9" and letter.body == b"bad event"
    # The other subscription's copy succeeded once and was never dead-lettered.
    assert [e["delivery_count"] for e in bus.entries("audit", message_id)] == [1]
    assert bus.dead_letters(f"{TOPIC}/Subscriptions/audit", message_id) == []
    assert (
        f"Subscription '{TOPIC}/Subscriptions/billing': message '{message_id}' moved to the "
        "dead-letter queue: MaxDeliveryCountExceeded"
    ) in bus.host.logs()


def test_an_abandoned_copy_comes_again_at_once(bus: Bus) -> None:
    message_id = new_id()
    bus.send(TOPIC, "flaky", message_id=message_id, application_properties={"billing": "flaky"})
    first, second = wait_until(
        lambda: (found := bus.entries("billing", message_id)) and len(found) == 2 and found
    )
    assert (first["delivery_count"], second["delivery_count"]) == (1, 2)
    assert second["at"] - first["at"] < 5  # the lock is 30 s: abandon did not wait for it
    (audited,) = wait_until(lambda: bus.entries("audit", message_id))
    assert audited["delivery_count"] == 1


def test_a_duplicate_send_is_dropped_once_for_the_whole_topic(bus: Bus) -> None:
    message_id, other = new_id(), new_id()
    assert bus.send(TOPIC, "one", message_id=message_id).accepted
    assert not bus.send(TOPIC, "two", message_id=message_id).accepted
    assert bus.send(TOPIC, "three", message_id=other).accepted
    wait_until(lambda: bus.entries("audit", other) and bus.entries("billing", other))
    wait_until(lambda: bus.settled(AUDIT, BILLING), what="both subscriptions settled")
    for function in ("audit", "billing"):
        (only,) = bus.entries(function, message_id)
        assert only["body"] == "one"


def test_an_expired_copy_is_dead_lettered_in_its_subscription(bus: Bus) -> None:
    message_id = new_id()
    bus.send("tt-short", "soon stale", message_id=message_id)
    letters = wait_until(
        lambda: bus.dead_letters("tt-short/Subscriptions/soon", message_id), timeout=20
    )
    assert letters[0].reason == "TTLExpiredException"
    assert len(bus.entries("short_lived", message_id)) == 1  # never delivered after expiry


def test_the_lock_is_renewed_while_a_function_outlives_it(bus: Bus) -> None:
    message_id = new_id()
    bus.send("tt-slow", json.dumps({"sleep": 7}), message_id=message_id)  # the lock is 5 s
    wait_until(
        lambda: [e for e in bus.entries("slow", message_id) if e["event"] == "finished"],
        timeout=20,
    )
    # Completed on its first delivery: a lapsed lock would have redelivered it meanwhile.
    wait_until(lambda: bus.settled("tt-slow/Subscriptions/worker"), what="settled")
    assert [(e["event"], e["delivery_count"]) for e in bus.entries("slow", message_id)] == [
        ("started", 1),
        ("finished", 1),
    ]


def test_what_cannot_run_is_refused_at_start_with_the_reason(bus: Bus) -> None:
    assert bus.host.http.get(bus.host.url("/api/alive"), timeout=10).text == "yes"
    logs = bus.host.logs()
    assert (
        "Service Bus trigger 'undeclared_subscription' will not run: topic 'tt-events' has no "
        "subscription 'ghost' in"
    ) in logs
    assert "(declared: audit, billing)" in logs
    assert (
        "Service Bus trigger 'undeclared_topic' will not run: topic 'tt-nowhere' is not declared"
    ) in logs
    assert "Service Bus trigger 'batch' will not run: cardinality 'many'" in logs
    assert "Service Bus trigger 'sessions' will not run: session-enabled" in logs
    # A message for the refused subscription goes nowhere: it does not exist.
    message_id = new_id()
    assert bus.send(TOPIC, "to all declared ones", message_id=message_id).accepted
    wait_until(lambda: bus.entries("audit", message_id) and bus.entries("billing", message_id))
    wait_until(lambda: bus.settled(AUDIT, BILLING), what="the declared copies settled")
    assert bus.entries("undeclared_subscription") == []
    assert bus.settled(f"{TOPIC}/Subscriptions/ghost")  # no copy was kept for it


def test_dead_letters_command_shows_and_counts_a_subscription(bus: Bus) -> None:
    message_id = new_id()
    bus.send(TOPIC, "poison", message_id=message_id, application_properties={"billing": "broken"})
    entity = f"{TOPIC}/Subscriptions/billing"
    wait_until(lambda: bus.dead_letters(entity, message_id), timeout=20)
    peeked = bus.cli("dead-letters", entity, "--peek")
    assert peeked.returncode == 0, peeked.stderr
    (shown,) = [json.loads(line) for line in peeked.stdout.splitlines() if message_id in line]
    assert shown["deadLetterReason"] == "MaxDeliveryCountExceeded"
    assert shown["deliveryCount"] == 3
    stats = bus.cli("dead-letters", "--stats")
    assert stats.returncode == 0, stats.stderr
    by_entity = {json.loads(line)["entity"]: json.loads(line) for line in stats.stdout.splitlines()}
    assert by_entity[f"{entity}/$deadletterqueue"]["depth"] >= 1
    assert by_entity[f"{TOPIC}/Subscriptions/audit/$deadletterqueue"]["depth"] == 0


def test_sigterm_abandons_a_copy_still_running_and_it_comes_again(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    # Its own slow topic, so the module's host (on the same storage) cannot take the message.
    declared = json.loads((APP / "servicebus.test.json").read_text())
    declared["topics"].append({"name": "tt-slow-shutdown", "subscriptions": [{"name": "worker"}]})
    declaration = tmp_path / "servicebus.json"
    declaration.write_text(json.dumps(declared))
    env = {
        **settings(azurite, journal),
        "DEVHOST_SERVICEBUS_DECLARATION": str(declaration),
        "SLOW_TOPIC": "tt-slow-shutdown",
    }
    message_id = new_id()
    first = devhost_factory(APP, env=env, extra_args=["--shutdown-grace", "1"])
    first.start()
    send_message(
        "tt-slow-shutdown",
        json.dumps({"sleep": 30}),
        message_id=message_id,
        topic=True,
        app_dir=APP,
        environ=env,
    )
    wait_until(lambda: [r for r in rows(journal) if r["message_id"] == message_id])
    assert first.stop(timeout=10) == 0
    assert "abandoned, so it is delivered again" in first.logs()

    second = devhost_factory(APP, env=env, extra_args=["--shutdown-grace", "1"])
    second.start()
    first_run, again = wait_until(
        lambda: (
            (found := [r for r in rows(journal) if r["message_id"] == message_id])
            and len(found) >= 2
            and found[:2]
        )
    )
    assert again["delivery_count"] == 2  # abandoned at shutdown, never completed
    assert (first_run["delivery_count"], again["pid"] != first_run["pid"]) == (1, True)
