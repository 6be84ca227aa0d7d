"""The nightly report (fan-out/fan-in in waves): plan a wave, sum its chunks, continue as new."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.reports import JOB_TYPE, PLAN_REPORT_CHUNKS, SUM_REPORT_PAGE, WRITE_REPORT
from domain.payload import read
from domain.reports import (
    ChunkInput,
    PageInput,
    ReportResult,
    ReportRun,
    ReportTotals,
    SummedOrders,
    WavePlan,
    WrittenReport,
    chunk_instance_id,
)
from domain.retry import RetryPolicy
from orchestrators.job_results import log_job
from orchestrators.retry import call_activity_with_backoff

ORCHESTRATOR = "nightly_report"
CHUNK_ORCHESTRATOR = "nightly_report_chunk"

# Storage hiccups are retried for about a minute; an unreadable row fails at once.
STEP_RETRY = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=2))

bp = df.Blueprint()


def _status(step: str, run: ReportRun, chunks_done: int, orders: int) -> dict[str, Any]:
    return {"step": step, "day": run.day, "chunks_done": chunks_done, "orders_summed": orders}


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def nightly_report(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input: ReportRun.dump(); output: ReportResult.dump(). A wave of chunk sub-orchestrations
    per execution, then continue-as-new with the cursor and the totals, so every history stays
    within domain.reports.history_limits however many orders (docs/nightly-report.md)."""
    run = read(ReportRun, context.get_input())
    if run.started_at is None:  # the first execution; later ones carry it along
        run = run.model_copy(update={"started_at": context.current_utc_datetime})
        log_job(context, JOB_TYPE, "started", run.correlation_id, run.started_at)
    context.set_custom_status(_status("summing", run, run.next_chunk, run.totals.orders))

    planned = yield from call_activity_with_backoff(
        context, PLAN_REPORT_CHUNKS, run.plan_input().dump(), STEP_RETRY
    )
    plan = read(WavePlan, planned)
    totals = run.totals
    if plan.chunks:
        tasks = [
            context.call_sub_orchestrator(
                CHUNK_ORCHESTRATOR,
                run.chunk_input(spec).dump(),
                chunk_instance_id(context.instance_id, spec.index),
            )
            for spec in plan.chunks
        ]
        for result in (yield context.task_all(tasks)):
            totals = totals.merge(read(SummedOrders, result).totals)
    done = run.next_chunk + len(plan.chunks)

    if plan.more:
        # A fresh history for the next wave: the totals and the cursor are all it needs.
        following = run.model_copy(
            update={"after": plan.after, "totals": totals, "next_chunk": done}
        )
        context.set_custom_status(_status("summing", run, done, totals.orders))
        context.continue_as_new(following.dump())
        return None

    context.set_custom_status(_status("writing", run, done, totals.orders))
    written = yield from call_activity_with_backoff(
        context, WRITE_REPORT, run.write_input(totals, done).dump(), STEP_RETRY
    )
    context.set_custom_status(_status("done", run, done, totals.orders))
    log_job(context, JOB_TYPE, "completed", run.correlation_id, run.started_at)
    report = ReportResult(
        day=run.day, orders=totals.orders, chunks=done, blobs=read(WrittenReport, written).blobs
    )
    return report.dump()


@bp.orchestration_trigger(context_name="context", orchestration=CHUNK_ORCHESTRATOR)
def nightly_report_chunk(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input: ChunkInput.dump(); output: SummedOrders.dump(), its pages summed in key order."""
    chunk = read(ChunkInput, context.get_input())
    totals, orders = ReportTotals(), 0
    for after, through in chunk.chunk.pages():
        page = PageInput(
            day=chunk.day, after=after, through=through, correlation_id=chunk.correlation_id
        )
        summed = yield from call_activity_with_backoff(
            context, SUM_REPORT_PAGE, page.dump(), STEP_RETRY
        )
        result = read(SummedOrders, summed)
        totals = totals.merge(result.totals)
        orders += result.orders
    return SummedOrders(totals=totals, orders=orders).dump()
