"""Retention rules: how old is too old, and what may never be deleted (a running instance);
the retention orchestration's input, output and activity payloads.

Purging by created time with no status filter would also delete running instances (the Azure
Storage provider drops a filter without terminal statuses), so the statuses are fixed here and
checked before any purge is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

from domain.payload import WHOLE, Model, NullsWritten, Timestamp

# The only statuses a purge may name: an instance in any of them will never run again.
PURGEABLE_STATUSES = ("Completed", "Failed", "Terminated")
# Purges look this far back; instances older than that were purged by an earlier run.
PURGE_LOOKBACK = timedelta(days=3650)
INSTANCE_PREFIX = "retention-"
REPORT_BLOB = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(json|csv)$")
CLAIM_PREFIX = "customers/"


def purge_statuses(statuses: tuple[str, ...] = PURGEABLE_STATUSES) -> tuple[str, ...]:
    """The statuses to purge, refusing an empty list or any status that may still run."""
    if not statuses:
        raise ValueError("a purge needs at least one terminal status (none purges everything)")
    unsafe = [s for s in statuses if s not in PURGEABLE_STATUSES]
    if unsafe:
        raise ValueError(f"never purge instances that may still run: {', '.join(unsafe)}")
    return statuses


Days = Annotated[int, Field(ge=1, description="A whole number of days, at least 1."), WHOLE]
Count = Annotated[int, Field(ge=0), WHOLE]


def _calendar_day(text: str) -> str:
    date.fromisoformat(text)  # a ValueError names no value: "month must be in 1..12"
    return text


# A UTC calendar day written yyyy-MM-dd, as report blobs are named.
Day = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_calendar_day)]


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
    as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
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


_FINAL_ORDER_STATUSES = frozenset({"Completed", "Rejected", "Cancelled", "Failed"})


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

    before_day: Day


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
