"""The nightly report's activities as plain functions: list a wave, sum a page, write the files.

Each reads its input strictly, touches storage through adapters/report_store.py and returns
JSON-safe results; reading twice gives the same result and writing twice the same bytes.
activities/reports.py registers them as Durable activities.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from adapters.errors import storage_errors
from adapters.report_store import ReportAdapters
from domain.failures import PermanentFailure
from domain.reports import (
    ChunkingPolicy,
    ReportTotals,
    parse_report_day,
    plan_chunks,
    render_csv,
    render_json,
)

logger = logging.getLogger(__name__)


def _object(payload: Any, activity: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise PermanentFailure(f"invalid {activity} input: a JSON object is required")
    return payload


def _key(value: Any, name: str, activity: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise PermanentFailure(f"invalid {activity} input: {name} must be an order id")
    return value


def plan_report_chunks(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """The next wave: up to `chunks_per_wave` chunks of the day's ids after `after`.

    Input {day, after, next_chunk, policy}; result {chunks: [ChunkSpec...], after, more}.
    Only page bounds are returned, so the result stays small however large the page size.
    """
    activity = "plan_report_chunks"
    data = _object(payload, activity)
    try:
        day = parse_report_day(data.get("day"))
        policy = ChunkingPolicy.from_dict(data["policy"])
        first = int(data.get("next_chunk", 0))
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentFailure(f"invalid {activity} input: {error}") from error
    after = _key(data.get("after"), "after", activity, optional=True)
    with storage_errors(activity):
        ids = adapters.orders.order_ids_of_day(day, after, policy.wave_size)
    chunks = plan_chunks(ids, after, first, policy)
    return {
        "chunks": [chunk.to_dict() for chunk in chunks],
        "after": ids[-1] if ids else after,
        # A full wave may have more after it; a short one was the day's last.
        "more": len(ids) == policy.wave_size,
    }


def sum_report_page(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """Sum the day's orders with `after` < id <= `through`: {totals, orders, last}."""
    activity = "sum_report_page"
    data = _object(payload, activity)
    try:
        day = parse_report_day(data.get("day"))
    except ValueError as error:
        raise PermanentFailure(f"invalid {activity} input: {error}") from error
    after = _key(data.get("after"), "after", activity, optional=True)
    through = _key(data.get("through"), "through", activity)
    started = time.perf_counter()
    try:
        with storage_errors(activity):
            facts = adapters.orders.order_facts_of_day(day, after, through or "")
    except (KeyError, TypeError, ValueError) as error:
        # A row the store cannot read will not read better on a retry: say which page.
        raise PermanentFailure(
            f"{activity}: an order row of {day} after {after or 'the start'} through {through} "
            f"is unreadable ({type(error).__name__}: {error})"
        ) from error
    totals = ReportTotals()
    for order in facts:
        totals.add_order(order)
    logger.debug(
        "%s: %d orders of %s in %.0f ms",
        activity,
        len(facts),
        day,
        (time.perf_counter() - started) * 1e3,
    )
    return {"totals": totals.to_dict(), "orders": len(facts)}


def write_report(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """Write `<day>.json` and `<day>.csv` from the summed totals; {blobs, orders}."""
    activity = "write_report"
    data = _object(payload, activity)
    try:
        day = parse_report_day(data.get("day"))
        totals = ReportTotals.from_dict(data["totals"])
        chunks = int(data["chunks"])
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentFailure(f"invalid {activity} input: {error}") from error
    with storage_errors(activity):
        blobs = adapters.reports.put(day, render_json(day, totals, chunks), render_csv(day, totals))
    logger.info("Report for %s written: %d orders in %d chunks", day, totals.orders, chunks)
    return {"blobs": blobs, "orders": totals.orders}
