"""Retention's activities: delete old report blobs and old claim-check blobs.

Activity names: delete_expired_reports and delete_expired_claims (one listing page per call).
Each is safe to run again: what is already gone is simply not counted twice. Instance history
is purged by the retention timer itself (triggers/retention_timer.py): only a durable client
can purge, and the timer holds one.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import azure.functions as func

from adapters.errors import storage_errors
from adapters.report_store import ReportAdapters, report_adapters
from domain.failures import PermanentFailure
from domain.payload import InvalidPayload, Model, read
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

LIST_PAGE_SIZE = 500
M = TypeVar("M", bound=Model)

bp = func.Blueprint()


def _input(model: type[M], payload: Any, activity: str) -> M:
    """The activity's input; one that can never be read fails permanently (no retry helps)."""
    try:
        return read(model, payload)
    except InvalidPayload as error:
        raise PermanentFailure(f"invalid {activity} input: {error}") from error


def delete_old_reports(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """Delete `<day>.json|csv` for days before `before_day`; other blobs stay."""
    before_day = _input(DeleteReportsInput, payload, "delete_old_reports").before_day
    sweeper, token, deleted = adapters.reports.sweeper, None, 0
    with storage_errors("delete_old_reports"):
        while True:
            page = sweeper.page(None, token, LIST_PAGE_SIZE)
            old = [e.name for e in page.entries if report_is_expired(e.name, before_day)]
            deleted += sweeper.delete(old)
            token = page.next_token
            if token is None:
                break
    logger.info("Deleted %d report blobs about days before %s", deleted, before_day)
    return ReportsDeleted(deleted=deleted).dump()


def delete_old_claims(payload: Any, adapters: ReportAdapters) -> dict[str, Any]:
    """One page of `customers/` claim-check blobs: delete those written before `before`
    whose order is over or unknown. Returns ClaimsPage: {deleted, listed, next_token}."""
    request = _input(DeleteClaimsInput, payload, "delete_old_claims")
    before = request.before
    with storage_errors("delete_old_claims"):
        page = adapters.claims.page(CLAIM_PREFIX, request.token, LIST_PAGE_SIZE)
        old = []
        for entry in page.entries:
            if entry.last_modified >= before:
                continue  # skip the order lookup for recent data
            order_id = entry.name.removeprefix(CLAIM_PREFIX).removesuffix(".json")
            record = adapters.orders.get(order_id) if order_id else None
            status = str(record.status) if record is not None else None
            if claim_is_expired(entry.last_modified, before, status):
                old.append(entry.name)
        deleted = adapters.claims.delete(old)
    return ClaimsPage(deleted=deleted, listed=len(page.entries), next_token=page.next_token).dump()


@bp.activity_trigger(input_name="payload")
def delete_expired_reports(payload: dict[str, Any]) -> dict[str, Any]:
    with storage_errors("delete_expired_reports"):
        adapters = report_adapters()
    return delete_old_reports(payload, adapters)


@bp.activity_trigger(input_name="payload")
def delete_expired_claims(payload: dict[str, Any]) -> dict[str, Any]:
    with storage_errors("delete_expired_claims"):
        adapters = report_adapters()
    return delete_old_claims(payload, adapters)
