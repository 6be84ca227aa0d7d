"""The nightly report's rules with no SDK: days, chunking, totals, the files, history limits."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.payload import InvalidPayload, parse_request, read
from domain.reports import (
    ChunkingPolicy,
    ChunkInput,
    ChunkSpec,
    OrderFacts,
    PageInput,
    PlanInput,
    ReportRequest,
    ReportResult,
    ReportRun,
    ReportTotals,
    SummedOrders,
    WavePlan,
    WriteInput,
    WrittenReport,
    chunk_instance_id,
    history_limits,
    instance_id_for,
    plan_chunks,
    render_csv,
    render_json,
    report_day_for,
)
from triggers.job_types import StartRequest
from triggers.problem_details import pointer
from triggers.report_job import AFTER_TODAY, REPORT_JOB

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


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
    with pytest.raises(InvalidPayload):
        read(ReportRequest, {"day": bad})


def test_chunks_cut_sorted_ids_into_pages_and_carry_only_bounds() -> None:
    policy = ChunkingPolicy(page_size=2, pages_per_chunk=2, chunks_per_wave=3)
    keys = [f"k{i:02d}" for i in range(9)]
    chunks = plan_chunks(keys, None, 4, policy)
    assert [c.dump() for c in chunks] == [
        {"index": 4, "after": None, "bounds": ["k01", "k03"]},
        {"index": 5, "after": "k03", "bounds": ["k05", "k07"]},
        {"index": 6, "after": "k07", "bounds": ["k08"]},
    ]
    assert chunks[1].pages() == [("k03", "k05"), ("k05", "k07")]
    assert read(ChunkSpec, json.loads(json.dumps(chunks[2].dump()))) == chunks[2]
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
    whole = ReportTotals.of(KNOWN)
    left, right = ReportTotals.of(KNOWN[:2]), ReportTotals.of(KNOWN[2:])
    assert right.merge(left) == left.merge(right) == whole
    assert whole.dump() == {
        "cells": [
            ["EUR", "Completed", 2, 3500, 3, 1],
            ["EUR", "Failed", 1, 700, 1, 0],
            ["GBP", "Completed", 1, 99, 1, 1],
            ["USD", "Received", 1, 12345, 3, 0],
        ]
    }
    assert read(ReportTotals, json.loads(json.dumps(whole.dump()))) == whole
    assert ReportTotals.of(reversed(KNOWN)) == whole  # always in report order
    assert left.orders == 2  # merging never changes its operands
    with pytest.raises(InvalidPayload, match=r"^cells: "):
        read(ReportTotals, {"cells": [["EUR", "Failed", 1, 2, 3, 0]] * 2})


def test_the_json_report_has_exact_figures_and_no_timestamp() -> None:
    totals = ReportTotals.of(KNOWN)
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
    totals = ReportTotals.of(KNOWN)
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
    run = ReportRun(
        day="2026-11-20",
        policy=ChunkingPolicy(page_size=10, pages_per_chunk=2, chunks_per_wave=3),
        after="k9",
        totals=ReportTotals.of(KNOWN[:1]),
        next_chunk=4,
        started_at=datetime(2026, 11, 21, 2, tzinfo=UTC),
        correlation_id="c-1",
    )
    again = read(ReportRun, json.loads(json.dumps(run.dump())))
    assert again == run and again.dump() == run.dump()
    assert run.dump()["started_at"] == "2026-11-21T02:00:00+00:00"
    with pytest.raises(InvalidPayload, match=r"^day: "):
        read(ReportRun, {"day": "yesterday"})


def _recorded(orchestrator: str, case: str) -> dict[str, Any]:
    return json.loads((HISTORIES / orchestrator / f"{case}.json").read_text())


@pytest.mark.parametrize("case", ["empty_day", "one_chunk", "three_waves_last"])
def test_recorded_inputs_and_results_read_and_write_the_same_json(case: str) -> None:
    """What the histories hold reads, and what the orchestrator writes from it is the same
    text; an unknown member is ignored and a defaulted one may be left out."""
    recorded = _recorded("nightly_report", case)
    run = read(ReportRun, {**json.loads(recorded["input"]), "added_later": [1]})
    assert json.dumps(run.dump()) == recorded["input"]
    scheduled = [e for e in recorded["history"] if e["EventType"] in (4, 7)]
    assert json.dumps(run.plan_input().dump()) == scheduled[0]["Input"]
    results = [json.loads(e["Result"]) for e in recorded["history"] if "TaskScheduledId" in e]
    plan = read(WavePlan, results[0])
    assert plan.dump() == results[0]
    for spec, event in zip(plan.chunks, scheduled[1:-1], strict=True):
        assert json.dumps(run.chunk_input(spec).dump()) == event["Input"]
    write = json.loads(scheduled[-1]["Input"])
    totals = read(WriteInput, write).totals
    assert json.dumps(run.write_input(totals, write["chunks"]).dump()) == scheduled[-1]["Input"]
    assert read(WrittenReport, results[-1]).dump() == results[-1]
    assert read(ReportResult, recorded["output"]).dump() == recorded["output"]
    older = {k: v for k, v in json.loads(recorded["input"]).items() if k not in ("started_at",)}
    older.pop("correlation_id")
    assert read(ReportRun, older).started_at is None


def test_recorded_chunk_inputs_and_page_results_read_and_write_the_same_json() -> None:
    recorded = _recorded("nightly_report_chunk", "three_waves_last.nightly_report_chunk-1")
    chunk = read(ChunkInput, json.loads(recorded["input"]))
    assert json.dumps(chunk.dump()) == recorded["input"]
    pages = [e["Input"] for e in recorded["history"] if e["EventType"] == 4]
    for (after, through), scheduled in zip(chunk.chunk.pages(), pages, strict=True):
        page = PageInput(day=chunk.day, after=after, through=through, correlation_id=None)
        assert json.dumps(page.dump()) == scheduled
    assert read(SummedOrders, recorded["output"]).dump() == recorded["output"]
    # An activity input without a correlation id (recorded before it travelled) still reads.
    assert read(PlanInput, {"day": "2024-03-01", "policy": {}}).policy == ChunkingPolicy()


def start(day: str, today: str) -> Any:
    body = parse_request(ReportRequest, json.dumps({"day": day}))
    received = datetime.fromisoformat(f"{today}T23:59:59+00:00")
    return asyncio.run(REPORT_JOB.start(None, StartRequest(body, received, "c")))  # type: ignore[arg-type]


def test_the_job_type_takes_a_day_up_to_today() -> None:
    assert REPORT_JOB.request is ReportRequest
    with pytest.raises(InvalidPayload) as refused:
        start("2026-11-22", "2026-11-21")  # refused before the client is used
    assert refused.value.problems == [AFTER_TODAY]
    for raw, problem in (
        (b'{"day": "2026-13-01"}', "#/day"),
        (b'{"day": "2026-02-30"}', "#/day"),
        (b'{"day": "2026-11-20", "force": true}', "#/force"),
        (b"[]", None),
        (b"{}", "#/day"),
    ):
        with pytest.raises(InvalidPayload) as refused:
            parse_request(ReportRequest, raw)
        assert [pointer(p) for p in refused.value.problems] == [problem], raw
    assert REPORT_JOB.owns("nightly-report-2026-11-20")
    assert not REPORT_JOB.owns("nightly-report-2026-11-20:chunk-00000")


@pytest.mark.parametrize("day", ["2020-01-01\n", "\uff12\uff10\uff12\uff10-01-01", "2020-02-30"])
def test_a_report_day_is_refused_without_echoing_it(day: str) -> None:
    with pytest.raises(InvalidPayload) as refused:
        parse_request(ReportRequest, json.dumps({"day": day}))
    assert [pointer(p) for p in refused.value.problems] == ["#/day"]
    assert day.strip() not in refused.value.problems[0]


@pytest.mark.parametrize(
    "value", [{"k": "v"}, ["x"], 1.5, 7, True, None, 10**30], ids=lambda v: type(v).__name__
)
def test_a_day_of_any_other_json_type_is_a_problem_for_it(value: Any) -> None:
    with pytest.raises(InvalidPayload) as refused:
        parse_request(ReportRequest, json.dumps({"day": value}))
    assert [pointer(p) for p in refused.value.problems] == ["#/day"]
