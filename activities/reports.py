"""The nightly report's activities: list a wave, sum a page, write the files."""

from __future__ import annotations

import logging

from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import ReportAdapters, root
from domain.failures import PermanentFailure
from domain.reports import (
    PageInput,
    PlanInput,
    ReportTotals,
    SummedOrders,
    WavePlan,
    WriteInput,
    WrittenReport,
    instance_id_for,
    plan_chunks,
    render_csv,
    render_json,
)

logger = logging.getLogger(__name__)

JOB_TYPE = "nightly-report"


def _ids(step: PlanInput | PageInput | WriteInput) -> JobIds:
    # The run's instance id comes from the day; its correlation id travels in the input
    # (inputs recorded before it did have none, and their spans carry none).
    instance_id = instance_id_for(step.day)
    return JobIds(JOB_TYPE, instance_id, step.correlation_id, f"report {instance_id}")


bp = ActivityBlueprint(adapters=root.reports, ids=_ids)

PLAN_REPORT_CHUNKS = "plan_report_chunks"


@bp.activity(PLAN_REPORT_CHUNKS, PlanInput)
def plan_report_chunks(step: PlanInput, adapters: ReportAdapters) -> WavePlan:
    """The next wave: up to `chunks_per_wave` chunks of the day's ids after `after`.

    Only page bounds are returned, so the result stays small however large the page size.
    """
    ids = adapters.orders.order_ids_of_day(step.day, step.after, step.policy.wave_size)
    chunks = plan_chunks(ids, step.after, step.next_chunk, step.policy)
    return WavePlan(
        chunks=tuple(chunks),
        after=ids[-1] if ids else step.after,
        # A full wave may have more after it; a short one was the day's last.
        more=len(ids) == step.policy.wave_size,
    )


SUM_REPORT_PAGE = "sum_report_page"


@bp.activity(SUM_REPORT_PAGE, PageInput)
def sum_report_page(step: PageInput, adapters: ReportAdapters) -> SummedOrders:
    """Sum the day's orders with `after` < id <= `through`."""
    try:
        facts = adapters.orders.order_facts_of_day(step.day, step.after, step.through)
    except (KeyError, TypeError, ValueError) as error:
        # A row the store cannot read will not read better on a retry: say which page.
        raise PermanentFailure(
            f"{SUM_REPORT_PAGE}: an order row of {step.day} after {step.after or 'the start'} "
            f"through {step.through} is unreadable ({type(error).__name__}: {error})"
        ) from error
    return SummedOrders(totals=ReportTotals.of(facts), orders=len(facts))


WRITE_REPORT = "write_report"


@bp.activity(WRITE_REPORT, WriteInput)
def write_report(step: WriteInput, adapters: ReportAdapters) -> WrittenReport:
    """Write `<day>.json` and `<day>.csv` from the summed totals."""
    day, totals = step.day, step.totals
    blobs = adapters.reports.put(
        day, render_json(day, totals, step.chunks), render_csv(day, totals)
    )
    logger.info("Report for %s written: %d orders in %d chunks", day, totals.orders, step.chunks)
    return WrittenReport(blobs=tuple(blobs), orders=totals.orders)
