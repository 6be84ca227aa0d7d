"""An app's own azure-servicebus sends, on the emulator's connection string, under devhost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.servicebus.client import receive_messages
from devhost.servicebus.models import ReceivedMessage
from devhost.testing import PROJECT_ROOT, DevHostProcess

APP = Path(__file__).resolve().parents[2] / "apps" / "servicebus_sender"
# Microsoft's documented connection string for the Service Bus emulator.
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
QUEUE = "sender-replies"
TOPIC = "sender-events"
ALL = f"{TOPIC}/Subscriptions/all"
AUDIT = f"{TOPIC}/Subscriptions/audit"


@dataclass
class Sender:
    host: DevHostProcess
    env: dict[str, str]

    def post(self, path: str, payload: Any = None, data: str | None = None) -> Any:
        return self.host.http.post(
            self.host.url(f"/api/{path}"), json=payload, data=data, timeout=30
        )

    def send(self, **spec: Any) -> dict[str, Any]:
        response = self.post("send", spec)
        assert response.status_code in (200, 409), response.text
        return response.json()

    def drain(self, entity: str, wait: float = 0.5) -> list[ReceivedMessage]:
        """Everything on `entity` now (receive-and-delete), through the emulator connection."""
        found: list[ReceivedMessage] = []
        while batch := receive_messages(
            entity,
            max_count=32,
            max_wait=wait if not found else 0,
            connection="ServiceBusConnection",
            app_dir=APP,
            environ=self.env,
        ):
            found.extend(batch)
        return found


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def sender(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sender]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "ServiceBusConnection": EMULATOR,
        "DEVHOST_SERVICEBUS_DECLARATION": str(APP / "servicebus.test.json"),
        "EVENTS_TOPIC": TOPIC,
    }
    host = DevHostProcess(APP, state_dir=tmp_path_factory.mktemp("sender") / "state", env=env)
    host.start()
    try:
        bus = Sender(host, env)
        for entity in (QUEUE, ALL, AUDIT, f"{ALL}/$deadletterqueue"):
            bus.drain(entity, wait=0)
        yield bus
    finally:
        host.close()


def test_a_reply_reaches_the_queue_with_every_property(sender: Sender) -> None:
    message_id = new_id()
    answer = sender.send(
        queue=QUEUE,
        messages=[
            {
                "body": '{"status": "Completed"}',
                "message_id": message_id,
                "correlation_id": "corr-7",
                "content_type": "application/json",
                "subject": "job-completed",
                "reply_to": "nowhere",
                "to": "caller",
                "properties": {"job_type": "order", "attempt": 2, "final": True, "ratio": 0.5},
            }
        ],
    )
    assert answer == {"sent": 1}
    (reply,) = sender.drain(QUEUE)
    assert reply.body == b'{"status": "Completed"}'
    assert reply.message_id == message_id
    assert reply.correlation_id == "corr-7"
    assert reply.content_type == "application/json"
    assert reply.subject == "job-completed"
    assert reply.reply_to == "nowhere" and reply.to == "caller"
    assert reply.application_properties == {
        "job_type": "order",
        "attempt": 2,
        "final": True,
        "ratio": 0.5,
    }
    assert reply.delivery_count == 1 and reply.sequence_number >= 1


def test_a_topic_event_reaches_every_subscription_once(sender: Sender) -> None:
    message_id = new_id()
    event = {"body": "shipped", "message_id": message_id, "correlation_id": "corr-8"}
    sender.send(topic=TOPIC, messages=[event])
    sender.send(topic=TOPIC, messages=[event])  # a retried send: dropped within the window
    copies = {entity: sender.drain(entity) for entity in (ALL, AUDIT)}
    assert [m.message_id for m in copies[ALL]] == [message_id]
    assert [m.message_id for m in copies[AUDIT]] == [message_id]
    (first,), (second,) = copies[ALL], copies[AUDIT]
    assert first.sequence_number == second.sequence_number  # one number, given by the topic
    assert first.correlation_id == second.correlation_id == "corr-8"
    assert first.body == second.body == b"shipped"


def test_duplicate_replies_are_dropped_and_a_batch_arrives_whole(sender: Sender) -> None:
    same, other = new_id(), new_id()
    sender.send(
        queue=QUEUE,
        batch=True,
        messages=[
            {"body": "a", "message_id": same},
            {"body": "b", "message_id": other},
            {"body": "a again", "message_id": same},
        ],
    )
    assert sorted(m.body for m in sender.drain(QUEUE)) == [b"a", b"b"]


def test_time_to_live_and_schedule_apply_per_subscription(sender: Sender) -> None:
    expiring, later = new_id(), new_id()
    sender.send(
        topic=TOPIC,
        messages=[
            {"body": "short", "message_id": expiring, "time_to_live_seconds": 1},
            {"body": "later", "message_id": later, "scheduled_in_seconds": 3},
        ],
    )
    time.sleep(1.5)  # the 1 s time to live lapses (a duration, not an event to wait for)
    # Only "all" dead-letters expired messages; "audit" drops them.
    assert sender.drain(ALL, wait=0) == []
    assert sender.drain(AUDIT, wait=0) == []
    (dead,) = sender.drain(f"{ALL}/$deadletterqueue")
    assert dead.message_id == expiring
    assert dead.application_properties["DeadLetterReason"] == "TTLExpiredException"
    (scheduled,) = sender.drain(ALL, wait=5)
    assert scheduled.message_id == later
    assert [m.message_id for m in sender.drain(AUDIT)] == [later]


def test_the_topic_output_binding_sends_to_the_stand_in_topic(sender: Sender) -> None:
    body = f"event-{new_id()}"
    response = sender.post("publish", data=body)
    assert response.status_code == 202, response.text
    for entity in (ALL, AUDIT):
        (event,) = sender.drain(entity)
        assert event.body == body.encode() and event.content_type == "text/plain"


def test_an_undeclared_topic_is_an_entity_not_found_error(sender: Sender) -> None:
    answer = sender.send(topic="no-such-topic", messages=[{"body": "x"}])
    assert answer["error"] == "MessagingEntityNotFoundError"
    assert answer["module"] == "azure.servicebus.exceptions"
    assert "topic 'no-such-topic' is not declared" in answer["text"]
    assert "servicebus.test.json" in answer["text"]


@pytest.mark.parametrize(
    ("call", "names"),
    [
        ("receiver", "ServiceBusClient.get_queue_receiver"),
        ("schedule", "ServiceBusSender.schedule_messages"),
        ("asyncio", "azure.servicebus.aio.ServiceBusClient"),
    ],
)
def test_calls_devhost_does_not_emulate_say_so(sender: Sender, call: str, names: str) -> None:
    response = sender.post(f"unsupported/{call}")
    assert response.status_code == 409, response.text
    answer = response.json()
    assert answer["error"] == "NotImplementedError"
    assert "devhost" in answer["text"] and names in answer["text"]


def test_the_receive_command_prints_json_lines(sender: Sender) -> None:
    message_id = new_id()
    sender.send(queue=QUEUE, messages=[{"body": "for the cli", "message_id": message_id}])
    environ = {**os.environ, **sender.env, "PYTHONPATH": str(PROJECT_ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devhost", "receive", *args, "--app-dir", str(APP)],
            capture_output=True,
            text=True,
            env=environ,
            cwd=PROJECT_ROOT,
            timeout=60,
            check=False,
        )

    peeked = cli(QUEUE, "--peek", "--connection", "ServiceBusConnection")
    assert peeked.returncode == 0, peeked.stderr
    assert [json.loads(line)["messageId"] for line in peeked.stdout.splitlines()] == [message_id]
    taken = cli(QUEUE, "--max", "5", "--wait", "0", "--connection", "ServiceBusConnection")
    (line,) = taken.stdout.splitlines()
    shown = json.loads(line)
    assert shown["body"] == "for the cli" and shown["deliveryCount"] == 1
    assert "received 1 message(s)" in taken.stderr
    assert cli(QUEUE, "--wait", "0").stdout == ""  # received and deleted
    missing = cli(f"{TOPIC}/Subscriptions/nobody")
    assert missing.returncode == 1 and "has no subscription 'nobody'" in missing.stderr
