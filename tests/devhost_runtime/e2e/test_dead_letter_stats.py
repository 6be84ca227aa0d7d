"""Dead-letter depth and oldest age: the function, `dead-letters --stats`, and the host's log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from devhost.azurite import Azurite, build_connection_string
from devhost.connections import ServiceBusConnection, resolve_storage
from devhost.servicebus.client import receive_messages, send_message
from devhost.servicebus.metrics import (
    DeadLetterStats,
    DeadLetterWatch,
    dead_letter_stats,
    interval_from,
)
from devhost.servicebus.names import QueuePath
from devhost.servicebus.namespace import StandInNamespace
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until

# Any app will do: the host watches the declared dead-letter queues whatever its triggers are.
APP = Path(__file__).resolve().parents[2] / "apps" / "http_basics"


@dataclass
class Declared:
    """A declaration file with one queue and one topic subscription, and the settings to use it."""

    app_dir: Path
    queue: str
    topic: str
    env: dict[str, str]


@pytest.fixture
def declared(azurite: Azurite, tmp_path: Path) -> Declared:
    # Unique names: the session's Azurite is shared with other tests.
    queue, topic = f"stats-{uuid.uuid4().hex[:10]}", f"events-{uuid.uuid4().hex[:10]}"
    declaration = {
        "queues": [
            {
                "name": queue,
                "properties": {"maxDeliveryCount": 1, "deadLetteringOnMessageExpiration": True},
            }
        ],
        "topics": [{"name": topic, "subscriptions": [{"name": "all"}]}],
    }
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "servicebus.json").write_text(json.dumps(declaration))
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_SERVICEBUS_DECLARATION": str(tmp_path / "infra" / "servicebus.json"),
    }
    return Declared(tmp_path, queue, topic, env)


def dead_letter_two(declared: Declared) -> None:
    """One message expires, one fails its only delivery: both reach the dead-letter queue."""
    where = {"app_dir": declared.app_dir, "environ": declared.env}
    send_message(declared.queue, "expires", time_to_live=timedelta(milliseconds=200), **where)
    time.sleep(0.4)  # the 200 ms time to live lapses
    assert receive_messages(declared.queue, max_wait=0, **where) == []  # expired: dead-lettered
    send_message(declared.queue, "fails", **where)
    namespace = StandInNamespace.from_settings(declared.app_dir, declared.env)
    queue = namespace.receiver(QueuePath.parse(declared.queue))
    (locked,) = queue.receive(1)
    queue.abandon(locked)  # maxDeliveryCount 1: dead-lettered
    time.sleep(0.05)  # so the oldest dead letter is measurably old


def by_entity(stats: list[DeadLetterStats]) -> dict[str, DeadLetterStats]:
    return {s.entity: s for s in stats}


def cli(*args: str, env: dict[str, str], app_dir: Path) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    environ.pop("AzureWebJobsServiceBus", None)
    return subprocess.run(
        [sys.executable, "-m", "devhost", *args, "--app-dir", str(app_dir)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def test_stats_give_depth_and_oldest_age_of_every_declared_dead_letter_queue(
    declared: Declared,
) -> None:
    before = datetime.now(UTC)
    dead_letter_two(declared)
    stats = by_entity(dead_letter_stats(declared.app_dir, declared.env))
    queue_dlq = f"{declared.queue}/$deadletterqueue"
    subscription_dlq = f"{declared.topic}/Subscriptions/all/$deadletterqueue"
    assert set(stats) == {queue_dlq, subscription_dlq}
    letters = stats[queue_dlq]
    assert letters.depth == 2
    assert letters.oldest_enqueued_at is not None
    assert before <= letters.oldest_enqueued_at <= datetime.now(UTC)
    assert letters.oldest_age_seconds is not None and letters.oldest_age_seconds > 0
    assert stats[subscription_dlq] == DeadLetterStats(subscription_dlq, 0, None, None)


def test_looking_creates_no_storage_queues(declared: Declared) -> None:
    (stats,) = [
        s
        for s in dead_letter_stats(declared.app_dir, declared.env)
        if s.entity.startswith(declared.queue)
    ]
    assert stats.depth == 0
    service = resolve_storage(environ=declared.env).queue_service()
    names = [q.name for q in service.list_queues(name_starts_with="sb-dlq-stats-")]
    assert QueuePath(declared.queue, True).storage_queue not in names


def test_the_stats_command_prints_one_json_line_per_entity(declared: Declared) -> None:
    dead_letter_two(declared)
    result = cli("dead-letters", "--stats", env=declared.env, app_dir=declared.app_dir)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    shown = {line["entity"]: line for line in lines}
    letters = shown[f"{declared.queue}/$deadletterqueue"]
    assert letters["depth"] == 2 and letters["oldestAgeSeconds"] > 0
    assert datetime.fromisoformat(letters["oldestEnqueuedAtUtc"]) <= datetime.now(UTC)
    empty = shown[f"{declared.topic}/Subscriptions/all/$deadletterqueue"]
    assert empty == {
        "entity": f"{declared.topic}/Subscriptions/all/$deadletterqueue",
        "depth": 0,
        "oldestEnqueuedAtUtc": None,
        "oldestAgeSeconds": None,
    }
    assert "1 of 2 declared dead-letter queue(s) hold messages" in result.stderr


def test_the_dead_letters_command_explains_a_missing_or_extra_queue(declared: Declared) -> None:
    missing = cli("dead-letters", env=declared.env, app_dir=declared.app_dir)
    assert missing.returncode == 1 and "needs a QUEUE (or --stats" in missing.stderr
    extra = cli("dead-letters", "orders", "--stats", env=declared.env, app_dir=declared.app_dir)
    assert extra.returncode == 1 and "leave out QUEUE" in extra.stderr


def test_a_running_host_logs_the_non_empty_dead_letter_queues(
    declared: Declared, tmp_path: Path
) -> None:
    dead_letter_two(declared)
    env = {**declared.env, "DEVHOST_DEAD_LETTER_LOG_INTERVAL": "0.5"}
    with DevHostProcess(APP, state_dir=tmp_path / "state", env=env) as host:
        wanted = f"Dead letters: {declared.queue}/$deadletterqueue depth 2, oldest "
        wait_until(lambda: wanted in host.logs(), 20, lambda: f"{wanted!r} in the log")
        # Only non-empty queues are named.
        assert f"{declared.topic}/Subscriptions/all" not in host.logs()


def test_unreachable_storage_neither_delays_start_nor_stop(
    declared: Declared, tmp_path: Path, closed_port: int
) -> None:
    unreachable = build_connection_string(
        blob_port=closed_port, queue_port=closed_port, table_port=closed_port
    )
    env = {
        **declared.env,
        "AzureWebJobsStorage": unreachable,
        "DEVHOST_DEAD_LETTER_LOG_INTERVAL": "0.2",
    }
    host = DevHostProcess(APP, state_dir=tmp_path / "state", env=env)
    try:
        started = time.monotonic()
        host.start(timeout=30)
        assert time.monotonic() - started < 30
        stopping = time.monotonic()
        assert host.stop() == 0
        # The check may be stuck in the storage SDK's retries: stopping does not wait for it.
        assert time.monotonic() - stopping < 10
    finally:
        host.close()


def test_a_failing_check_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    declaration = tmp_path / "servicebus.json"
    declaration.write_text("{not json")
    watch = DeadLetterWatch(
        tmp_path, {"DEVHOST_SERVICEBUS_DECLARATION": str(declaration)}, interval=60
    )
    with caplog.at_level(logging.WARNING, logger="devhost.serviceBusTrigger"):
        watch.check()
        watch.check()
    problems = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(problems) == 1 and "cannot be read as JSON" in problems[0].getMessage()


def test_the_interval_setting_is_checked() -> None:
    assert interval_from({}) == 60.0
    assert interval_from({"DEVHOST_DEAD_LETTER_LOG_INTERVAL": "0"}) == 0.0
    assert interval_from({"DEVHOST_DEAD_LETTER_LOG_INTERVAL": "2.5"}) == 2.5
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(ValueError, match="DEVHOST_DEAD_LETTER_LOG_INTERVAL"):
            interval_from({"DEVHOST_DEAD_LETTER_LOG_INTERVAL": bad})


class FakeAdministrationClient:
    """Answers runtime-property queries as ServiceBusAdministrationClient does (a real
    namespace cannot be reached from these tests)."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.closed = False

    def get_queue_runtime_properties(self, queue_name: str) -> Any:
        return SimpleNamespace(dead_letter_message_count=self.counts[queue_name])

    def get_subscription_runtime_properties(self, topic_name: str, subscription_name: str) -> Any:
        count = self.counts[f"{topic_name}/{subscription_name}"]
        return SimpleNamespace(dead_letter_message_count=count)

    def close(self) -> None:
        self.closed = True


def test_a_configured_namespace_reports_its_dead_letter_counts(declared: Declared) -> None:
    fake = FakeAdministrationClient({declared.queue: 4, f"{declared.topic}/all": 0})
    seen: list[ServiceBusConnection] = []

    def factory(connection: ServiceBusConnection) -> FakeAdministrationClient:
        seen.append(connection)
        return fake

    env = {
        **declared.env,
        "AzureWebJobsServiceBus__fullyQualifiedNamespace": "example.servicebus.windows.net",
    }
    stats = by_entity(dead_letter_stats(declared.app_dir, env, admin_factory=factory))
    assert stats[f"{declared.queue}/$deadletterqueue"] == DeadLetterStats(
        f"{declared.queue}/$deadletterqueue", 4, None, None
    )
    assert stats[f"{declared.topic}/Subscriptions/all/$deadletterqueue"].depth == 0
    assert seen[0].fully_qualified_namespace == "example.servicebus.windows.net"
    assert fake.closed
