"""The nightly report's activities as plain functions: list a wave, sum a page, write the files.

Each reads its input with its model from domain/reports.py (an input that does not read is a
permanent failure), touches storage through adapters/report_store.py and returns JSON-safe
results; reading twice gives the same result and writing twice the same bytes.
activities/reports.py registers them as Durable activities.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from adapters.errors import storage_errors
from adapters.report_store import ReportAdapters
from domain.failures import PermanentFailure
from domain.payload import InvalidPayload, M, read
from domain.reports import (
    PageInput,
    PlanInput,
    ReportTotals,
    SummedOrders,
    WavePlan,
    WriteInput,
    WrittenReport,
    plan_chunks,
    render_csv,
    render_json,
)

logger = logging.getLogger(__name__)


def _input(model: type[M], payload: Any, activity: str) -> M:
    try:
        return read(model, payload)
    except InvalidPayload as error:  # the same input fails the same way every time
        raise PermanentFailure(f"invalid {activity} input: {error}") from error


def plan_report_chunks(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """The next wave: up to `chunks_per_wave` chunks of the day's ids after `after`.

    Input PlanInput; result WavePlan. Only page bounds are returned, so the result stays small
    however large the page size.
    """
    activity = "plan_report_chunks"
    step = _input(PlanInput, payload, activity)
    with storage_errors(activity):
        ids = adapters.orders.order_ids_of_day(step.day, step.after, step.policy.wave_size)
    chunks = plan_chunks(ids, step.after, step.next_chunk, step.policy)
    return WavePlan(
        chunks=tuple(chunks),
        after=ids[-1] if ids else step.after,
        # A full wave may have more after it; a short one was the day's last.
        more=len(ids) == step.policy.wave_size,
    ).dump()


def sum_report_page(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """Sum the day's orders with `after` < id <= `through`: SummedOrders."""
    activity = "sum_report_page"
    step = _input(PageInput, payload, activity)
    started = time.perf_counter()
    try:
        with storage_errors(activity):
            facts = adapters.orders.order_facts_of_day(step.day, step.after, step.through)
    except (KeyError, TypeError, ValueError) as error:
        # A row the store cannot read will not read better on a retry: say which page.
        raise PermanentFailure(
            f"{activity}: an order row of {step.day} after {step.after or 'the start'} "
            f"through {step.through} is unreadable ({type(error).__name__}: {error})"
        ) from error
    logger.debug(
        "%s: %d orders of %s in %.0f ms",
        activity,
        len(facts),
        step.day,
        (time.perf_counter() - started) * 1e3,
    )
    return SummedOrders(totals=ReportTotals.of(facts), orders=len(facts)).dump()


def write_report(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """Write `<day>.json` and `<day>.csv` from the summed totals: WrittenReport."""
    activity = "write_report"
    step = _input(WriteInput, payload, activity)
    day, totals = step.day, step.totals
    with storage_errors(activity):
        blobs = adapters.reports.put(
            day, render_json(day, totals, step.chunks), render_csv(day, totals)
        )
    logger.info("Report for %s written: %d orders in %d chunks", day, totals.orders, step.chunks)
    return WrittenReport(blobs=tuple(blobs), orders=totals.orders).dump()
