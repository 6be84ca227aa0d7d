"""Retention (a batch job): delete old report blobs, then old claim-check blobs, page by page."""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.retention import DELETE_EXPIRED_CLAIMS, DELETE_EXPIRED_REPORTS
from domain.payload import read
from domain.retention import (
    ClaimsPage,
    DeleteClaimsInput,
    DeleteReportsInput,
    ReportsDeleted,
    RetentionRun,
    RetentionSummary,
    cutoffs,
)
from domain.retry import RetryPolicy
from orchestrators.retry import call_activity_with_backoff

logger = logging.getLogger(__name__)

ORCHESTRATOR = "retention"
CLAIM_PAGES_PER_EXECUTION = 10
STEP_RETRY = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=5))

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def retention(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input: RetentionRun (with the count of instances the timer purged: only a durable client
    can purge); output: RetentionSummary. Claim checks, one per order, are swept a page per
    activity, continuing as new every few pages, so the history stays short."""
    run = read(RetentionRun, context.get_input())
    limits = cutoffs(run.as_of, run.policy)

    if run.reports_deleted is None:
        context.set_custom_status({"step": "deleting reports"})
        reports = yield from call_activity_with_backoff(
            context,
            DELETE_EXPIRED_REPORTS,
            DeleteReportsInput(before_day=limits.reports_before_day).dump(),
            STEP_RETRY,
        )
        run = run.model_copy(update={"reports_deleted": read(ReportsDeleted, reports).deleted})

    context.set_custom_status({"step": "deleting claim checks"})
    for _ in range(CLAIM_PAGES_PER_EXECUTION):
        page = yield from call_activity_with_backoff(
            context,
            DELETE_EXPIRED_CLAIMS,
            DeleteClaimsInput(before=limits.claims_before, token=run.claims_token).dump(),
            STEP_RETRY,
        )
        swept = read(ClaimsPage, page)
        run = run.model_copy(
            update={
                "claims_token": swept.next_token,
                "claims_deleted": run.claims_deleted + swept.deleted,
                "pages": run.pages + 1,
            }
        )
        if run.claims_token is None:
            break
    else:
        context.continue_as_new(run.dump())  # more pages: a fresh, short history
        return None

    summary = RetentionSummary(
        as_of=run.as_of,
        purged=run.purged,
        reports_deleted=run.reports_deleted,
        claims_deleted=run.claims_deleted,
    ).dump()
    context.set_custom_status({"step": "done"})
    if not context.is_replaying:
        logger.info("Retention %s done: %s", context.instance_id, summary)
    return summary
