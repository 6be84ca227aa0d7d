"""The express benchmark's arithmetic: spans from a history, medians, ratios, the targets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.express_report import (
    BacklogRound,
    Drain,
    Latency,
    Span,
    drain_of,
    edge_instances,
    median_latency,
    render,
    span_of,
    summarize,
)

SETTINGS = {"backlogs": [500, 2000], "rounds": 3, "no_fsync": False}


def status(enqueued: str, started: str, completed: str) -> dict[str, Any]:
    """A completed order as GET instances/{id}?showHistory=true answers."""
    workflow_input = {"order": {"order_id": "x"}, "received_at": enqueued, "version": 2}
    return {
        "instanceId": "order-x",
        "runtimeStatus": "Completed",
        "input": json.dumps(workflow_input),
        "historyEvents": [
            {"EventType": "ExecutionStarted", "Timestamp": started},
            {"EventType": "TaskCompleted", "Timestamp": "2026-12-07T10:00:01.500000Z"},
            {"EventType": "ExecutionCompleted", "Timestamp": completed},
        ],
    }


def test_a_span_splits_at_execution_started() -> None:
    span = span_of(
        status(
            "2026-12-07T10:00:00.250000+00:00",
            "2026-12-07T10:00:01.000000Z",
            "2026-12-07T10:00:03.500000Z",
        )
    )
    assert span.start_s == pytest.approx(0.75)
    assert span.run_s == pytest.approx(2.5)
    assert span.latency_s == pytest.approx(3.25)
    assert Latency.of(span) == Latency(span.latency_s, span.start_s, span.run_s)


def test_an_order_that_did_not_complete_has_no_span() -> None:
    running = {
        **status("2026-12-07T10:00:00Z", "2026-12-07T10:00:01Z", "x"),
        "runtimeStatus": "Running",
    }
    with pytest.raises(ValueError, match="Running"):
        span_of(running)


def test_each_part_has_its_own_median() -> None:
    rows = [Latency(1.0, 0.2, 0.8), Latency(5.0, 0.1, 4.9), Latency(2.0, 0.9, 1.1)]
    assert median_latency(rows) == Latency(2.0, 0.2, 1.1)


def test_a_drain_runs_from_the_first_start_to_the_last_completion() -> None:
    spans = [Span(0.0, 10.0, 30.0), Span(0.0, 11.0, 50.0), Span(0.0, 12.0, 40.0)]
    drain = drain_of(spans, orders=200)
    assert drain == Drain(200, 10.0, 50.0)
    assert drain.seconds == 40.0
    assert drain.per_second == 5.0


def test_only_orders_near_the_edges_are_read_exactly() -> None:
    def listed(instance: str, created: str, updated: str) -> dict[str, str]:
        return {"instanceId": instance, "createdTime": created, "lastUpdatedTime": updated}

    instances = [
        listed("first", "2026-12-07T10:00:00Z", "2026-12-07T10:00:20Z"),
        listed("close-to-first", "2026-12-07T10:00:02Z", "2026-12-07T10:00:30Z"),
        listed("middle", "2026-12-07T10:00:05Z", "2026-12-07T10:00:40Z"),
        listed("close-to-last", "2026-12-07T10:00:09Z", "2026-12-07T10:00:58Z"),
        listed("last", "2026-12-07T10:00:10Z", "2026-12-07T10:01:00Z"),
    ]
    assert edge_instances(instances) == ["first", "close-to-first", "close-to-last", "last"]


def _round(
    backlog: int,
    k: int,
    per_second: float,
    express: Latency | None = None,
    idle: tuple[Latency, ...] = (),
) -> BacklogRound:
    drain = Drain(backlog, 0.0, backlog / per_second)
    return BacklogRound(backlog, k, express is not None, drain, idle, express)


def test_rows_compare_each_backlog_with_idle_and_the_main_app_alone() -> None:
    # Idle medians per round: (1.0, 0.4, 0.6), (0.8, 0.3, 0.5), (1.2, 0.5, 0.7).
    idle = [
        (Latency(1.0, 0.4, 0.6), Latency(3.0, 0.1, 2.9), Latency(0.9, 0.5, 0.4)),
        (Latency(0.8, 0.3, 0.5),),
        (Latency(1.2, 0.5, 0.7), Latency(1.2, 0.5, 0.7)),
    ]
    rounds = [
        _round(500, 0, 4.0),
        _round(500, 0, 3.6, Latency(2.0, 0.5, 1.5), idle[0]),
        _round(500, 1, 4.5, Latency(2.6, 0.6, 2.0), idle[1]),
        _round(500, 1, 5.0),
        _round(500, 2, 4.6),
        _round(500, 2, 4.0, Latency(2.4, 0.4, 2.0), idle[2]),
    ]
    result = summarize(rounds)
    assert result.idle == [Latency(1.0, 0.4, 0.6), Latency(0.8, 0.3, 0.5), Latency(1.2, 0.5, 0.7)]
    idle_row, behind = result.rows
    assert idle_row.samples == 3
    assert idle_row.latency == Latency(1.0, 0.4, 0.6)
    assert idle_row.ratio == 1.0
    assert behind.samples == 3
    assert behind.latency == Latency(2.4, 0.5, 2.0)
    assert behind.ratio == pytest.approx(2.4)
    assert behind.normal_per_s_beside == pytest.approx(4.0)
    assert behind.normal_per_s_alone == pytest.approx(4.6)
    assert behind.throughput_ratio == pytest.approx(4.0 / 4.6)
    assert result.latency_met and result.throughput_met


def test_the_targets_fail_on_either_backlog() -> None:
    idle = (Latency(1.0, 0.4, 0.6),)
    rounds = [
        _round(500, 0, 4.0),
        _round(500, 0, 4.0, Latency(2.0, 0.5, 1.5), idle),
        _round(2000, 0, 4.0),
        _round(2000, 0, 3.0, Latency(3.5, 0.5, 3.0), idle),
    ]
    result = summarize(rounds)
    assert [row.ratio for row in result.rows] == pytest.approx([1.0, 2.0, 3.5])
    assert not result.latency_met  # 3.5 x idle behind 2000
    assert not result.throughput_met  # 0.75 of alone behind 2000
    text = render(result, SETTINGS)
    assert "behind 2000 (1 rounds)" in text
    assert "<= 3 x idle: NOT met" in text
    assert ">= 0.8 x alone: NOT met" in text


def test_a_run_stopped_early_meets_no_target_it_did_not_measure() -> None:
    idle = (Latency(1.0, 0.4, 0.6),)
    rounds = [_round(500, 0, 4.0), _round(500, 0, 4.0, Latency(1.5, 0.5, 1.0), idle)]
    stopped = summarize([*rounds, _round(2000, 0, 4.0)])
    assert [row.label for row in stopped.rows] == ["idle (1 rounds)", "behind 500 (1 rounds)"]
    beside_only = summarize(rounds[1:])
    assert beside_only.rows[1].throughput_ratio is None
    assert not beside_only.throughput_met
