"""Service Bus triggers on devhost: concurrency limits, graceful shutdown, and refused bindings."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.connections import resolve_storage
from devhost.servicebus.client import send_message
from devhost.servicebus.names import active_queue_name
from devhost.testing import DevHostProcess, wait_until

APPS = Path(__file__).resolve().parents[2] / "apps"


def rows(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line]


def environment(azurite: Azurite, journal: Path) -> dict[str, str]:
    return {"AzureWebJobsStorage": azurite.connection_string, "SB_JOURNAL": str(journal)}


def test_max_concurrent_calls_is_honoured(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    env = environment(azurite, journal)
    app = APPS / "servicebus_concurrency"
    for _ in range(6):
        send_message("slow", "work", app_dir=app, environ=env)
    host = devhost_factory(app, env=env)
    host.start()
    done = wait_until(lambda: len(rows(journal)) == 6 and rows(journal), timeout=20)
    moments = sorted(
        [(r["start"], 1) for r in done] + [(r["end"], -1) for r in done], key=lambda m: m
    )
    running, peak = 0, 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    assert peak == 2  # host.json extensions.serviceBus.maxConcurrentCalls
    assert "maxConcurrentCalls 2" in host.logs()


@pytest.mark.parametrize("queue", ["work-async", "work-sync"])
def test_sigterm_abandons_what_outlives_the_grace_period(
    queue: str,
    azurite: Azurite,
    devhost_factory: Callable[..., DevHostProcess],
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    env = environment(azurite, journal)
    app = APPS / "servicebus_shutdown"
    message_id = uuid.uuid4().hex
    first = devhost_factory(app, env=env, extra_args=["--shutdown-grace", "1"])
    first.start()
    send_message(queue, json.dumps({"sleep": 30}), message_id=message_id, app_dir=app, environ=env)
    wait_until(lambda: [r for r in rows(journal) if r["event"] == "started"])
    stopped_at = time.monotonic()
    assert first.stop(timeout=10) == 0
    assert time.monotonic() - stopped_at < 6
    assert "abandoned, so it is delivered again" in first.logs()
    assert not [r for r in rows(journal) if r["event"] == "finished"]

    second = devhost_factory(app, env=env)
    second.start()
    again = wait_until(lambda: [r for r in rows(journal) if r["event"] == "finished"])
    assert again[0]["message_id"] == message_id
    assert again[0]["delivery_count"] == 2  # abandoned, never completed
    assert again[0]["pid"] != next(r for r in rows(journal) if r["event"] == "started")["pid"]


def test_sigterm_lets_a_short_invocation_finish_and_complete(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    env = environment(azurite, journal)
    app = APPS / "servicebus_shutdown"
    message_id = uuid.uuid4().hex
    first = devhost_factory(app, env=env, extra_args=["--shutdown-grace", "5"])
    first.start()
    send_message(
        "work-async", json.dumps({"sleep": 1}), message_id=message_id, app_dir=app, environ=env
    )
    wait_until(lambda: [r for r in rows(journal) if r["event"] == "started"])
    assert first.stop(timeout=15) == 0
    assert [r["event"] for r in rows(journal)] == ["started", "finished"]
    storage = resolve_storage(environ=env).queue_service()
    waiting = storage.get_queue_client(active_queue_name("work-async")).get_queue_properties()
    assert waiting.approximate_message_count == 0  # completed, not left to its lock

    second = devhost_factory(app, env=env)
    second.start()
    # It listens on the queue, which holds nothing (above): the message completed once.
    wait_until(lambda: "listens on queue 'work-async'" in second.logs(), what="listening")
    assert [r["event"] for r in rows(journal)] == ["started", "finished"]


def test_bindings_devhost_cannot_run_are_refused_clearly(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    host = devhost_factory(
        APPS / "servicebus_refused", env={"AzureWebJobsStorage": azurite.connection_string}
    )
    host.start()
    assert host.http.get(host.url("/api/alive"), timeout=10).text == "yes"
    logs = host.logs()
    assert "Service Bus trigger 'on_topic' will not run: topic 'events' is not declared" in logs
    assert "Service Bus trigger 'on_batch' will not run: cardinality 'many'" in logs
    assert "Service Bus trigger 'on_session' will not run: session-enabled" in logs
    assert (
        "Service Bus trigger 'settles_itself' will not run: it settles messages from code "
        "with azurefunctions-extensions-bindings-servicebus"
    ) in logs
    assert "'unresolved' will not run: '%MISSING_SETTING%' refers to app setting" in logs
    assert (
        "Function 'settles_with_actions' failed to load: parameters ['message_actions'] use an "
        "SDK-type binding package"
    ) in logs
