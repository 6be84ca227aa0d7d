"""Retention rules: how old is too old, and what may never be deleted (a running instance).

Purging by created time with no status filter would also delete running instances (the Azure
Storage provider drops a filter without terminal statuses), so the statuses are fixed here and
checked before any purge is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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


@dataclass(frozen=True)
class RetentionPolicy:
    """Ages in days: instance history, report blobs, claim-check blobs (personal data)."""

    instance_days: int = 30
    report_days: int = 90
    claim_days: int = 30

    def __post_init__(self) -> None:
        for name in ("instance_days", "report_days", "claim_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of days, at least 1")

    def to_dict(self) -> dict[str, int]:
        return {
            "instance_days": self.instance_days,
            "report_days": self.report_days,
            "claim_days": self.claim_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetentionPolicy:
        return cls(int(data["instance_days"]), int(data["report_days"]), int(data["claim_days"]))


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


@dataclass(frozen=True)
class RetentionRun:
    """The retention orchestration's input (and its state across continue-as-new)."""

    as_of: str
    policy: RetentionPolicy = RetentionPolicy()
    claims_token: str | None = None
    claims_deleted: int = 0
    pages: int = 0
    purged: int | None = None
    reports_deleted: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "policy": self.policy.to_dict(),
            "claims_token": self.claims_token,
            "claims_deleted": self.claims_deleted,
            "pages": self.pages,
            "purged": self.purged,
            "reports_deleted": self.reports_deleted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetentionRun:
        if not isinstance(data, dict) or not isinstance(data.get("as_of"), str):
            raise ValueError("the retention input needs as_of (an ISO 8601 time)")
        datetime.fromisoformat(data["as_of"])
        policy = data.get("policy")
        return cls(
            as_of=data["as_of"],
            policy=RetentionPolicy.from_dict(policy) if policy else RetentionPolicy(),
            claims_token=data.get("claims_token"),
            claims_deleted=int(data.get("claims_deleted", 0)),
            pages=int(data.get("pages", 0)),
            purged=data.get("purged"),
            reports_deleted=data.get("reports_deleted"),
        )

    @property
    def moment(self) -> datetime:
        moment = datetime.fromisoformat(self.as_of)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
