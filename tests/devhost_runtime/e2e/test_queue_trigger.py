"""Storage queue triggers on devhost with Azurite: message fields, retries, poison, batches,
outputs, the `enqueue` command and shutdown with a message in flight."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    QueueClient,
)

from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "queue_trigger"


class QueueRun:
    """One devhost app run's queue prefix, journal and clients."""

    def __init__(self, azurite: Azurite, journal: Path) -> None:
        self.prefix = f"q{uuid.uuid4().hex[:10]}"
        self.journal = journal
        self.connection_string = azurite.connection_string
        self.env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "Q": self.prefix,
            "QUEUE_JOURNAL": str(journal),
        }

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def client(self, suffix: str, *, encoded: bool = True) -> QueueClient:
        """A client for one queue: Base64 as the host writes, or the raw stored text."""
        policies: dict[str, Any] = (
            {
                "message_encode_policy": BinaryBase64EncodePolicy(),
                "message_decode_policy": BinaryBase64DecodePolicy(),
            }
            if encoded
            else {}
        )
        return QueueClient.from_connection_string(
            self.connection_string, self.name(suffix), **policies
        )

    def send(self, suffix: str, body: bytes) -> Any:
        client = self.client(suffix)
        if not client_exists(client):
            client.create_queue()
        return client.send_message(body)

    def entries(self, function: str | None = None, **match: Any) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        rows = [json.loads(line) for line in self.journal.read_text().splitlines() if line]
        return [
            r
            for r in rows
            if (function is None or r["function"] == function)
            and all(r.get(k) == v for k, v in match.items())
        ]


def client_exists(client: QueueClient) -> bool:
    try:
        client.get_queue_properties()
    except Exception:
        return False
    return True


def peek(client: QueueClient) -> list[Any]:
    return list(client.peek_messages(max_messages=32)) if client_exists(client) else []


@pytest.fixture(scope="module")
def shared(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[QueueRun, DevHostProcess]]:
    """One devhost on the test app for the tests that do not stop it."""
    folder = tmp_path_factory.mktemp("queues")
    run = QueueRun(azurite, folder / "journal.jsonl")
    host = DevHostProcess(APP, env=run.env, state_dir=folder / "state")
    host.start()
    try:
        yield run, host
    finally:
        host.close()


def test_queue_message_has_the_fields_the_worker_builds(
    shared: tuple[QueueRun, DevHostProcess],
) -> None:
    run, host = shared
    before = datetime.now(UTC)
    sent = run.send("fields", "héllo queue".encode())
    entry = wait_until(lambda: run.entries("fields", id=sent.id), what="fields ran")[0]
    assert entry["type"] == "QueueMessage"
    assert entry["body"] == "héllo queue"
    assert entry["dequeue_count"] == 1
    assert datetime.fromisoformat(entry["insertion_time"]) == sent.inserted_on
    assert datetime.fromisoformat(entry["expiration_time"]) == sent.expires_on
    # Received with the listener's 10-minute visibility, as the host does.
    next_visible = datetime.fromisoformat(entry["time_next_visible"])
    assert 500 < (next_visible - before).total_seconds() < 700
    assert entry["pop_receipt"]
    wait_until(lambda: not peek(run.client("fields")), what="the message was deleted")
    logs = host.logs()
    assert f"fields: queueTrigger ({run.name('fields')})" in logs  # %Q% resolved
    assert "Queue trigger 'missing_setting' will not run:" in logs
    assert "refers to app setting 'QUEUE_NOT_SET', which is not set" in logs
    assert (
        "Queue trigger 'bad_name' will not run: A queue name can contain only letters, "
        'numbers, and dash(-) characters - "bad_name"' in logs
    )
    assert f"Queue '{run.name('fields')}' of 'fields' does not exist yet" in logs
    assert host.http.get(host.url("/api/alive"), timeout=10).text == "yes"


def test_binary_data_type_and_str_parameter(shared: tuple[QueueRun, DevHostProcess]) -> None:
    run, _ = shared
    run.send("binary", b"\xff\x00\xfe")
    run.send("text", b"plain text")
    wait_until(lambda: run.entries("binary") and run.entries("as_text"), what="both ran")
    assert run.entries("binary")[0]["hex"] == "ff00fe"
    assert run.entries("as_text")[0] == {**run.entries("as_text")[0], "type": "str"}
    assert run.entries("as_text")[0]["text"] == "plain text"


def test_a_failure_is_retried_with_a_rising_dequeue_count(
    shared: tuple[QueueRun, DevHostProcess],
) -> None:
    run, _ = shared
    sent = run.send("flaky", json.dumps({"succeed_on": 2, "tag": "retry"}).encode())
    wait_until(lambda: len(run.entries("flaky", at_attempt=2)) >= 2, what="two attempts")
    attempts = run.entries("flaky", at_attempt=2)
    assert [a["dequeue_count"] for a in attempts] == [1, 2]
    # visibilityTimeout is one second: the retry waited for it.
    assert attempts[1]["at"] - attempts[0]["at"] >= 0.9
    wait_until(lambda: not peek(run.client("flaky")), what="deleted after success")
    assert not peek(run.client("flaky-poison"))
    assert sent.id


def test_poison_after_max_dequeue_count_keeps_the_body(
    shared: tuple[QueueRun, DevHostProcess],
) -> None:
    run, host = shared
    body = json.dumps({"succeed_on": 99, "data": "ünïcode"}).encode()
    sent = run.send("flaky", body)
    poison = run.client("flaky-poison")
    poisoned = wait_until(lambda: peek(poison), what="the poison queue has the message")
    assert [m.content for m in poisoned] == [body]
    assert [a["dequeue_count"] for a in run.entries("flaky", at_attempt=99)] == [1, 2, 3]
    assert not peek(run.client("flaky"))
    assert (
        "Message has reached MaxDequeueCount of 3. Moving message to queue "
        f"'{run.name('flaky-poison')}'. (message {sent.id}" in host.logs()
    )


def test_a_message_that_is_not_base64_goes_to_poison_as_stored(
    shared: tuple[QueueRun, DevHostProcess],
) -> None:
    run, host = shared
    raw = run.client("fields", encoded=False)
    if not client_exists(raw):
        raw.create_queue()
    sent = raw.send_message("not base64 %%%")
    poisoned = wait_until(lambda: peek(run.client("fields-poison", encoded=False)), what="poison")
    assert [m.content for m in poisoned] == ["not base64 %%%"]
    assert not run.entries("fields", id=sent.id)  # the function never ran
    assert (
        f"Message decoding has failed! Check MessageEncoding settings. MessageId={sent.id}."
        in host.logs()
    )


def test_batch_size_and_threshold_bound_concurrency(
    shared: tuple[QueueRun, DevHostProcess],
) -> None:
    run, _ = shared
    tag = uuid.uuid4().hex
    for index in range(6):
        run.send("slow", json.dumps({"seconds": 0.6, "tag": tag, "n": index}).encode())
    wait_until(
        lambda: len([e for e in run.entries("slow", phase="end") if e["body"]["tag"] == tag]) == 6,
        what="all six finished",
    )
    events = sorted(
        (e["at"], 1 if e["phase"] == "start" else -1)
        for e in run.entries("slow")
        if e["body"]["tag"] == tag
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    # batchSize 2 and newBatchThreshold 0: at most 2 at once, and the 2 do overlap.
    assert peak == 2


def test_queue_output_binding_sends_and_wakes_the_listener(
    shared: tuple[QueueRun, DevHostProcess],
) -> None:
    run, _ = shared
    run.send("forward", b"shout")
    entry = wait_until(lambda: run.entries("forwarded"), what="forwarded ran")[0]
    assert entry["body"] == "SHOUT"


def enqueue(
    *args: str, env: dict[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "devhost", "enqueue", *args, "--app-dir", str(APP)],
        input=stdin,
        capture_output=True,
        env=environ,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def test_enqueue_from_a_file_and_from_stdin_reaches_the_function(
    shared: tuple[QueueRun, DevHostProcess], tmp_path: Path
) -> None:
    run, _ = shared
    body = tmp_path / "body.json"
    body.write_bytes(b'{"from": "file"}')
    from_file = enqueue(run.name("fields"), str(body), env=run.env)
    assert from_file.returncode == 0, from_file.stderr
    from_stdin = enqueue(run.name("fields"), "-", "--count", "2", env=run.env, stdin=b"from stdin")
    assert from_stdin.returncode == 0, from_stdin.stderr
    shown = [json.loads(line) for line in (from_file.stdout + from_stdin.stdout).splitlines()]
    assert [s["queue"] for s in shown] == [run.name("fields")] * 3
    ids = [s["messageId"] for s in shown]
    wait_until(lambda: all(run.entries("fields", id=i) for i in ids), what="all three ran")
    assert run.entries("fields", id=ids[0])[0]["body"] == '{"from": "file"}'
    assert [run.entries("fields", id=i)[0]["body"] for i in ids[1:]] == ["from stdin"] * 2


def test_enqueue_creates_the_queue_and_refuses_bad_input(azurite: Azurite, tmp_path: Path) -> None:
    env = {"AzureWebJobsStorage": azurite.connection_string}
    name = f"q{uuid.uuid4().hex[:10]}-new"
    result = enqueue(name.upper(), "-", env=env, stdin=b"x")
    assert result.returncode == 0, result.stderr
    stored = list(
        QueueClient.from_connection_string(env["AzureWebJobsStorage"], name).peek_messages()
    )
    assert [m.content for m in stored] == [base64.b64encode(b"x").decode()]
    bad = enqueue("bad_queue", "-", env=env, stdin=b"x")
    assert bad.returncode == 1
    assert "A queue name can contain only letters, numbers, and dash(-)" in bad.stderr.decode()
    big = enqueue(name, "-", env=env, stdin=b"x" * 60000)
    assert big.returncode == 1 and "at most 64 KiB" in big.stderr.decode()


def test_stop_gives_back_a_message_still_running_and_it_runs_again(
    azurite: Azurite, tmp_path: Path, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    run = QueueRun(azurite, tmp_path / "journal.jsonl")
    first = devhost_factory(APP, env=run.env, extra_args=["--shutdown-grace", "1"])
    first.start()
    run.send("slow", json.dumps({"seconds": 60, "first_only": True}).encode())
    wait_until(lambda: run.entries("slow", phase="start"), what="the slow run started")
    assert first.stop() == 0
    assert not run.entries("slow", phase="end")
    waiting = peek(run.client("slow"))
    assert len(waiting) == 1 and waiting[0].dequeue_count == 1  # visible again, not lost
    assert "did not finish within the shutdown grace period" in first.logs()
    second = devhost_factory(APP, env=run.env)
    second.start()
    done = wait_until(lambda: run.entries("slow", phase="end"), what="ran again")
    assert done[0]["dequeue_count"] == 2


def test_stop_lets_a_running_invocation_finish_and_deletes_its_message(
    azurite: Azurite, tmp_path: Path, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    run = QueueRun(azurite, tmp_path / "journal.jsonl")
    host = devhost_factory(APP, env=run.env, extra_args=["--shutdown-grace", "20"])
    host.start()
    run.send("slow", json.dumps({"seconds": 1.5}).encode())
    wait_until(lambda: run.entries("slow", phase="start"), what="the slow run started")
    assert host.stop() == 0
    assert len(run.entries("slow", phase="end")) == 1
    assert not peek(run.client("slow"))
