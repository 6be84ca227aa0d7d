"""devhost.testing.wait_until: the one wait every test uses instead of a fixed sleep."""

from __future__ import annotations

import time

import pytest

from devhost.testing import wait_until


def test_it_returns_the_first_truthy_value_as_soon_as_it_comes() -> None:
    answers = iter([None, [], 0, ["ready"]])
    started = time.monotonic()
    assert wait_until(lambda: next(answers), timeout=5, interval=0.001) == ["ready"]
    assert time.monotonic() - started < 1


def test_it_fails_after_the_timeout_saying_what_it_waited_for() -> None:
    calls: list[None] = []
    with pytest.raises(AssertionError, match=r"the marker not met within 0\.05 s"):
        wait_until(lambda: calls.append(None), timeout=0.05, what="the marker", interval=0.01)
    assert len(calls) >= 2  # polled, then once more at the deadline


def test_what_may_be_computed_when_it_fails() -> None:
    with pytest.raises(AssertionError, match="log tail: boom"):
        wait_until(lambda: False, timeout=0.01, what=lambda: "log tail: boom", interval=0.005)
