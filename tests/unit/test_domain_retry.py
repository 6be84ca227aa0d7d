"""domain.retry: backoff grows, is capped, jitters within bounds and is the same on replay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.retry import RetryPolicy


def test_delays_double_and_stop_at_the_cap() -> None:
    policy = RetryPolicy(
        first_delay=timedelta(seconds=2), max_delay=timedelta(seconds=10), jitter=0
    )

    delays = [policy.delay(n, "seed").total_seconds() for n in range(1, 6)]

    assert delays == [2, 4, 8, 10, 10]


def test_jitter_stays_within_its_share_and_is_deterministic() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=10), jitter=0.2)

    for attempt in range(1, 4):
        base = 10 * 2 ** (attempt - 1)
        delay = policy.delay(attempt, "instance-1").total_seconds()
        assert 0.8 * base <= delay <= 1.2 * base
        assert policy.delay(attempt, "instance-1").total_seconds() == delay


def test_different_seeds_spread_apart() -> None:
    policy = RetryPolicy()

    assert len({policy.delay(1, f"instance-{n}") for n in range(20)}) > 1


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"jitter": 1.0}, {"jitter": -0.1}])
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
