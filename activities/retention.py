"""Retention's activities: delete old report blobs and old claim-check blobs, each safe to rerun."""

from __future__ import annotations

import logging

from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import ReportAdapters, root
from domain.retention import (
    CLAIM_PREFIX,
    ClaimsPage,
    DeleteClaimsInput,
    DeleteReportsInput,
    ReportsDeleted,
    claim_is_expired,
    report_is_expired,
)

logger = logging.getLogger(__name__)

JOB_TYPE = "retention"
LIST_PAGE_SIZE = 500


def _ids(step: DeleteReportsInput | DeleteClaimsInput) -> JobIds:
    # The inputs carry no instance id: a run is known by its cut-off.
    if isinstance(step, DeleteReportsInput):
        return JobIds(JOB_TYPE, None, None, f"reports before {step.before_day}")
    return JobIds(JOB_TYPE, None, None, f"claim checks before {step.before.isoformat()}")


bp = ActivityBlueprint(adapters=root.reports, ids=_ids)

DELETE_EXPIRED_REPORTS = "delete_expired_reports"


@bp.activity(DELETE_EXPIRED_REPORTS, DeleteReportsInput)
def delete_expired_reports(step: DeleteReportsInput, adapters: ReportAdapters) -> ReportsDeleted:
    """Delete `<day>.json|csv` for days before `before_day`; other blobs stay."""
    sweeper, token, deleted = adapters.reports.sweeper, None, 0
    while True:
        page = sweeper.page(None, token, LIST_PAGE_SIZE)
        old = [e.name for e in page.entries if report_is_expired(e.name, step.before_day)]
        deleted += sweeper.delete(old)
        token = page.next_token
        if token is None:
            break
    logger.info("Deleted %d report blobs about days before %s", deleted, step.before_day)
    return ReportsDeleted(deleted=deleted)


DELETE_EXPIRED_CLAIMS = "delete_expired_claims"


@bp.activity(DELETE_EXPIRED_CLAIMS, DeleteClaimsInput)
def delete_expired_claims(step: DeleteClaimsInput, adapters: ReportAdapters) -> ClaimsPage:
    """One page of `customers/` claim-check blobs: delete those written before `before`
    whose order is over or unknown."""
    page = adapters.claims.page(CLAIM_PREFIX, step.token, LIST_PAGE_SIZE)
    old = []
    for entry in page.entries:
        if entry.last_modified >= step.before:
            continue  # skip the order lookup for recent data
        order_id = entry.name.removeprefix(CLAIM_PREFIX).removesuffix(".json")
        record = adapters.orders.get(order_id) if order_id else None
        status = str(record.status) if record is not None else None
        if claim_is_expired(entry.last_modified, step.before, status):
            old.append(entry.name)
    deleted = adapters.claims.delete(old)
    return ClaimsPage(deleted=deleted, listed=len(page.entries), next_token=page.next_token)
