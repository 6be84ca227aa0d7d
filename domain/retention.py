"""Retention rules: how old is too old, what may never be deleted, and the run's payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from domain.orders import OrderStatus
from domain.payload import WHOLE, Model, NullsWritten, Timestamp, utc
from domain.reports import ReportDay

# The only statuses a purge names: an instance in any of them will never run again. Never an
# empty list: the Azure Storage provider drops non-terminal statuses from a purge filter and,
# with none left, purges everything in the time range, running instances included.
PURGEABLE_STATUSES = ("Completed", "Failed", "Terminated")
# Purges look this far back; instances older than that were purged by an earlier run.
PURGE_LOOKBACK = timedelta(days=3650)
INSTANCE_PREFIX = "retention-"
REPORT_BLOB = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(json|csv)$")
CLAIM_PREFIX = "customers/"


Days = Annotated[int, Field(ge=1, description="A whole number of days, at least 1."), WHOLE]
Count = Annotated[int, Field(ge=0), WHOLE]


class RetentionPolicy(Model):
    """Ages in days: instance history, report blobs, claim-check blobs (personal data)."""

    instance_days: Days = 30
    report_days: Days = 90
    claim_days: Days = 30


@dataclass(frozen=True)
class Cutoffs:
    """Everything created (or, for reports, about a day) before these is old."""

    instances_before: datetime
    reports_before_day: str
    claims_before: datetime


def cutoffs(as_of: datetime, policy: RetentionPolicy) -> Cutoffs:
    as_of = utc(as_of)
    return Cutoffs(
        instances_before=as_of - timedelta(days=policy.instance_days),
        reports_before_day=(as_of.date() - timedelta(days=policy.report_days)).isoformat(),
        claims_before=as_of - timedelta(days=policy.claim_days),
    )


def report_is_expired(blob_name: str, before_day: str) -> bool:
    """A report blob (`<day>.json` / `<day>.csv`) about a day before the cutoff day.

    Anything else in the container is not ours to delete and stays.
    """
    match = REPORT_BLOB.match(blob_name)
    return match is not None and match.group(1) < before_day


def claim_is_expired(last_modified: datetime, before: datetime, order_status: str | None) -> bool:
    """A claim-check blob written before the cutoff whose order is over (or unknown).

    Personal data of an order still in its workflow (an approval may wait for days) stays.
    """
    if last_modified >= before:
        return False
    return order_status is None or order_status in _FINAL_ORDER_STATUSES


_FINAL_ORDER_STATUSES = frozenset(str(status) for status in OrderStatus if status.is_terminal)


class RetentionRun(NullsWritten):
    """The retention orchestration's input (and its state across continue-as-new)."""

    as_of: Timestamp = Field(description="The run's moment: every age counts back from it.")
    policy: RetentionPolicy = RetentionPolicy()
    claims_token: str | None = Field(None, description="Where the claim listing goes on.")
    claims_deleted: Count = 0
    pages: Count = 0
    purged: Count | None = Field(None, description="What the timer purged before the run.")
    reports_deleted: Count | None = Field(None, description="None until reports are swept.")


class RetentionSummary(NullsWritten):
    """The retention orchestration's output: the whole clean-up in numbers."""

    as_of: Timestamp
    purged: Count | None = None
    reports_deleted: Count | None = None
    claims_deleted: Count = 0


class DeleteReportsInput(Model):
    """`delete_expired_reports`: report blobs about days before this one go."""

    before_day: ReportDay


class DeleteClaimsInput(NullsWritten):
    """`delete_expired_claims`: one listing page of claim-check blobs written before `before`."""

    before: Timestamp
    token: str | None = Field(None, description="The listing's next page; None: the first.")


class ReportsDeleted(Model):
    """`delete_expired_reports`' result."""

    deleted: Count


class ClaimsPage(NullsWritten):
    """`delete_expired_claims`' result: what one page held and where the listing goes on."""

    deleted: Count
    listed: Count
    next_token: str | None = None
