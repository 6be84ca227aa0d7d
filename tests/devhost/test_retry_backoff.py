"""orchestrators.retry on devhost: attempts, no retry of permanent errors, and the timer delays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import DevHostProcess
from domain.retry import RetryPolicy

APP = Path(__file__).resolve().parent.parent / "apps" / "retry_backoff"
ORCHESTRATOR_STARTED, TASK_SCHEDULED, TIMER_CREATED = 12, 4, 10


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    with DevHostProcess(
        APP, state_dir=tmp_path_factory.mktemp("retry-state"), virtual_time=True
    ) as running:
        yield running


def spec(activity: str, counter: Path, policy: RetryPolicy, fail_times: int = 0) -> dict[str, Any]:
    return {
        "activity": activity,
        "payload": {"counter_file": str(counter), "fail_times": fail_times},
        "max_attempts": policy.max_attempts,
        "first_delay_seconds": policy.first_delay.total_seconds(),
        "backoff_coefficient": policy.backoff_coefficient,
        "max_delay_seconds": policy.max_delay.total_seconds(),
        "jitter": policy.jitter,
    }


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def timer_delays(host: DevHostProcess, instance_id: str) -> list[timedelta]:
    """Each TimerCreated's FireAt minus the time of the episode that created it."""
    delays, episode = [], None
    for event in host.raw_history(instance_id):
        if event["EventType"] == ORCHESTRATOR_STARTED:
            episode = parse(event["Timestamp"])
        elif event["EventType"] == TIMER_CREATED:
            assert episode is not None
            delays.append(parse(event["FireAt"]) - episode)
    return delays


def attempts(host: DevHostProcess, instance_id: str) -> int:
    return sum(1 for e in host.raw_history(instance_id) if e["EventType"] == TASK_SCHEDULED)


def assert_close(actual: list[timedelta], expected: list[timedelta]) -> None:
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(actual, expected, strict=True):
        assert abs(got - want) <= timedelta(milliseconds=1), (actual, expected)


def test_transient_failures_are_retried_with_growing_jittered_delays(
    host: DevHostProcess, tmp_path: Path
) -> None:
    policy = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=10), jitter=0.2)
    counter = tmp_path / "calls"
    status = host.run_orchestration(
        "with_backoff", spec("fails_transiently", counter, policy, fail_times=3)
    )
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"result": {"calls": 4}}
    assert counter.read_text() == "4"
    iid = status["instanceId"]
    assert attempts(host, iid) == 4
    delays = timer_delays(host, iid)
    seed = f"{iid}:fails_transiently"
    assert_close(delays, [policy.delay(attempt, seed) for attempt in (1, 2, 3)])
    assert delays[0] < delays[1] < delays[2]
    # Jitter moves each delay away from the plain doubling, within ±20 %.
    for attempt, delay in enumerate(delays, start=1):
        base = 10 * 2 ** (attempt - 1)
        assert base * 0.8 <= delay.total_seconds() <= base * 1.2
    assert [d.total_seconds() for d in delays] != [10, 20, 40]


def test_delays_stop_growing_at_the_maximum(host: DevHostProcess, tmp_path: Path) -> None:
    policy = RetryPolicy(
        max_attempts=4,
        first_delay=timedelta(seconds=10),
        backoff_coefficient=10,
        max_delay=timedelta(seconds=30),
        jitter=0,
    )
    status = host.run_orchestration(
        "with_backoff", spec("fails_transiently", tmp_path / "calls", policy, fail_times=3)
    )
    assert status["output"] == {"result": {"calls": 4}}
    expected = [timedelta(seconds=s) for s in (10, 30, 30)]
    assert_close(timer_delays(host, status["instanceId"]), expected)


def test_the_last_failure_is_raised_after_max_attempts(
    host: DevHostProcess, tmp_path: Path
) -> None:
    policy = RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=1))
    counter = tmp_path / "calls"
    status = host.run_orchestration(
        "with_backoff", spec("fails_transiently", counter, policy, fail_times=10)
    )
    assert status["output"] == {"kind": "transient", "reason": "busy, call 3"}
    assert counter.read_text() == "3"
    # No timer after the last attempt (the SDK's RetryOptions waits once more, uselessly).
    assert len(timer_delays(host, status["instanceId"])) == 2


def test_a_permanent_failure_is_never_retried(host: DevHostProcess, tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=5)
    counter = tmp_path / "calls"
    status = host.run_orchestration("with_backoff", spec("fails_permanently", counter, policy))
    assert status["output"] == {"kind": "permanent", "reason": "declined, call 1"}
    assert counter.read_text() == "1"
    iid = status["instanceId"]
    assert attempts(host, iid) == 1
    assert timer_delays(host, iid) == []


def test_an_unlabelled_failure_counts_as_transient(host: DevHostProcess, tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=2, first_delay=timedelta(seconds=1))
    counter = tmp_path / "calls"
    status = host.run_orchestration("with_backoff", spec("fails_unlabelled", counter, policy))
    assert status["output"]["kind"] == "transient"
    assert "RuntimeError: unexpected, call 2" in status["output"]["reason"]
    assert counter.read_text() == "2"
