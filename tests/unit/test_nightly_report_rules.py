"""The nightly report's rules with no SDK: days, chunking, totals, the files, history limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from domain.reports import (
    ChunkingPolicy,
    ChunkSpec,
    InvalidReportDay,
    OrderFacts,
    ReportRun,
    ReportTotals,
    chunk_instance_id,
    history_limits,
    instance_id_for,
    parse_report_day,
    plan_chunks,
    render_csv,
    render_json,
    report_day_for,
)
from triggers.job_types import InvalidJobRequest
from triggers.report_job import REPORT_JOB, parse_report_request


def facts(order_id: str, status: str, currency: str, total: int, units: int, express: bool):
    return OrderFacts(order_id, status, currency, total, units, express)


KNOWN = [
    facts("a", "Completed", "EUR", 2500, 1, False),
    facts("b", "Completed", "EUR", 1000, 2, True),
    facts("c", "Failed", "EUR", 700, 1, False),
    facts("d", "Received", "USD", 12345, 3, False),
    facts("e", "Completed", "GBP", 99, 1, True),
]


def test_the_report_day_is_the_utc_day_before_the_run() -> None:
    assert report_day_for(datetime(2026, 3, 1, 2, 0, tzinfo=UTC)) == "2026-02-28"
    assert report_day_for(datetime(2024, 3, 1, 23, 59, tzinfo=UTC)) == "2024-02-29"
    assert instance_id_for("2026-11-21") == "nightly-report-2026-11-21"
    assert (
        chunk_instance_id("nightly-report-2026-11-21", 7) == "nightly-report-2026-11-21:chunk-00007"
    )


@pytest.mark.parametrize("bad", ["2026-02-30", "26-01-01", "2026-1-01", "", None, 20260101])
def test_a_report_day_must_be_a_calendar_day(bad: object) -> None:
    with pytest.raises(InvalidReportDay):
        parse_report_day(bad)


def test_chunks_cut_sorted_ids_into_pages_and_carry_only_bounds() -> None:
    policy = ChunkingPolicy(page_size=2, pages_per_chunk=2, chunks_per_wave=3)
    keys = [f"k{i:02d}" for i in range(9)]
    chunks = plan_chunks(keys, None, 4, policy)
    assert [c.to_dict() for c in chunks] == [
        {"index": 4, "after": None, "bounds": ["k01", "k03"]},
        {"index": 5, "after": "k03", "bounds": ["k05", "k07"]},
        {"index": 6, "after": "k07", "bounds": ["k08"]},
    ]
    assert chunks[1].pages() == [("k03", "k05"), ("k05", "k07")]
    assert ChunkSpec.from_dict(chunks[2].to_dict()) == chunks[2]
    assert plan_chunks([], "k08", 7, policy) == []
    # Every id falls into exactly one page.
    covered = [
        k for c in chunks for a, t in c.pages() for k in keys if (a is None or k > a) and k <= t
    ]
    assert covered == keys


def test_chunking_refuses_unsorted_ids_and_ids_before_the_cursor() -> None:
    policy = ChunkingPolicy(page_size=2, pages_per_chunk=1, chunks_per_wave=1)
    with pytest.raises(ValueError, match="sorted"):
        plan_chunks(["b", "a"], None, 0, policy)
    with pytest.raises(ValueError, match="after the cursor"):
        plan_chunks(["a", "b"], "a", 0, policy)


@pytest.mark.parametrize(
    "kwargs",
    [{"page_size": 0}, {"page_size": 1001}, {"pages_per_chunk": 0}, {"chunks_per_wave": 51}],
)
def test_chunking_policy_limits(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChunkingPolicy(**kwargs)


def test_history_limits_do_not_depend_on_the_number_of_orders() -> None:
    limits = history_limits(ChunkingPolicy(page_size=500, pages_per_chunk=4, chunks_per_wave=10))
    assert (limits.parent, limits.chunk) == (52, 20)


def test_totals_sum_per_currency_and_status_and_merge_in_any_grouping() -> None:
    whole = ReportTotals()
    for order in KNOWN:
        whole.add_order(order)
    left, right = ReportTotals(), ReportTotals()
    for order in KNOWN[:2]:
        left.add_order(order)
    for order in KNOWN[2:]:
        right.add_order(order)
    assert right.merge(left).to_dict() == left.merge(right).to_dict() == whole.to_dict()
    assert whole.to_dict() == {
        "cells": [
            ["EUR", "Completed", 2, 3500, 3, 1],
            ["EUR", "Failed", 1, 700, 1, 0],
            ["GBP", "Completed", 1, 99, 1, 1],
            ["USD", "Received", 1, 12345, 3, 0],
        ]
    }
    assert (
        ReportTotals.from_dict(json.loads(json.dumps(whole.to_dict()))).to_dict() == whole.to_dict()
    )
    assert left.orders == 2  # merging never changes its operands


def test_the_json_report_has_exact_figures_and_no_timestamp() -> None:
    totals = ReportTotals()
    for order in KNOWN:
        totals.add_order(order)
    document = json.loads(render_json("2026-11-20", totals, 3))
    assert document == {
        "schema": 1,
        "day": "2026-11-20",
        "orders": 5,
        "chunks": 3,
        "by_status": {
            "Received": 1,
            "StockReserved": 0,
            "Paid": 0,
            "AwaitingApproval": 0,
            "Shipped": 0,
            "Completed": 3,
            "Rejected": 0,
            "Cancelled": 0,
            "Failed": 1,
        },
        "by_currency": {
            "EUR": {
                "orders": 3,
                "total_cents": 4200,
                "completed_cents": 3500,
                "units": 4,
                "express_orders": 1,
            },
            "GBP": {
                "orders": 1,
                "total_cents": 99,
                "completed_cents": 99,
                "units": 1,
                "express_orders": 1,
            },
            "USD": {
                "orders": 1,
                "total_cents": 12345,
                "completed_cents": 0,
                "units": 3,
                "express_orders": 0,
            },
        },
        "express_orders": 2,
        "units": 8,
    }
    assert render_json("2026-11-20", totals, 3) == render_json("2026-11-20", totals, 3)


def test_the_csv_report_is_exact() -> None:
    totals = ReportTotals()
    for order in KNOWN:
        totals.add_order(order)
    assert render_csv("2026-11-20", totals).decode() == (
        "day,currency,status,orders,total_cents,units,express_orders\n"
        "2026-11-20,EUR,Completed,2,3500,3,1\n"
        "2026-11-20,EUR,Failed,1,700,1,0\n"
        "2026-11-20,GBP,Completed,1,99,1,1\n"
        "2026-11-20,USD,Received,1,12345,3,0\n"
        "2026-11-20,EUR,ALL,3,4200,4,1\n"
        "2026-11-20,GBP,ALL,1,99,1,1\n"
        "2026-11-20,USD,ALL,1,12345,3,0\n"
    )
    assert render_csv("2026-11-20", ReportTotals()).decode().count("\n") == 1  # header only


def test_the_run_input_round_trips_through_json() -> None:
    totals = ReportTotals()
    totals.add_order(KNOWN[0])
    run = ReportRun(
        "2026-11-20", ChunkingPolicy(10, 2, 3), "k9", totals, 4, "2026-11-21T02:00:00+00:00", "c-1"
    )
    again = ReportRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again.to_dict() == run.to_dict()
    with pytest.raises(ValueError):
        ReportRun.from_dict({"day": "yesterday"})


def test_the_job_type_takes_a_day_up_to_today() -> None:
    assert parse_report_request({"day": "2026-11-20"}, "2026-11-21") == "2026-11-20"
    assert parse_report_request({"day": "2026-11-21"}, "2026-11-21") == "2026-11-21"
    for body, problem in (
        ({"day": "2026-11-22"}, "after today"),
        ({"day": "2026-13-01"}, "calendar day"),
        ({"day": "2026-11-20", "force": True}, "force"),
        ([], "JSON object"),
    ):
        with pytest.raises(InvalidJobRequest, match=problem):
            parse_report_request(body, "2026-11-21")
    assert REPORT_JOB.owns("nightly-report-2026-11-20")
    assert not REPORT_JOB.owns("nightly-report-2026-11-20:chunk-00000")
