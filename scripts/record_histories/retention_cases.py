"""Retention's representative paths on the batch_jobs app (the real orchestrator and activities
on Azurite): a run that finds nothing old, and one that deletes old reports and claim checks.

The run's moment (`as_of`) is fixed in each case, so the cut-offs in the activity inputs are
the same on every re-recording. Claim-check blobs are written during the recording (today, in
real time), so the moments are chosen far from today: 2000 (they are all too new) and 2099
(they are all old). More than 5,000 claim-check blobs would make the run continue as new;
that is not recorded (see docs/safe-deploys.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from domain.retention import RetentionPolicy, RetentionRun
from scripts.record_histories import batch_storage
from scripts.record_histories.recording import Case, Session, Suite

POLICY = RetentionPolicy(instance_days=30, report_days=90, claim_days=30)
# Reports are kept 90 days: at the later moment 1999-12-01 and 2098-06-01 are old, 2098-12-31
# is not; at the earlier one none is.
REPORT_DAYS = ("1999-12-01", "2098-06-01", "2098-12-31")
CLAIM_ORDERS = ("ret-1", "ret-2", "ret-3")
PURGED = 3  # what the timer says it purged before starting the run


def _seed(session: Session) -> None:
    """Idempotent: the same blobs whichever case runs first."""
    connection = session.host.env["AzureWebJobsStorage"]
    reports = batch_storage.report_adapters(connection).reports
    for day in REPORT_DAYS:
        reports.put(day, json.dumps({"day": day}).encode(), b"day\n")
    claims = batch_storage.claim_checks(connection)
    for order_id in CLAIM_ORDERS:
        claims.put(order_id, {"name": f"Customer {order_id}"})


def _run(as_of: str) -> Callable[[Session], str]:
    def drive(session: Session) -> str:
        _seed(session)
        session.host.set_time(auto_advance=True)
        instance_id = f"retention-{as_of[:10]}"  # as the retention timer names it
        run = RetentionRun(as_of=datetime.fromisoformat(as_of), policy=POLICY, purged=PURGED)
        session.host.start_orchestration("retention", run.dump(), instance_id)
        status = session.host.wait_for(instance_id, timeout=120)
        if status["runtimeStatus"] != "Completed":
            raise RuntimeError(f"{instance_id} ended {status['runtimeStatus']}: {status}")
        return instance_id

    return drive


CASES = (
    Case(
        "nothing_expired",
        "as of 2000-01-15: no report or claim check is old enough, nothing deleted",
        _run("2000-01-15T02:00:00+00:00"),
    ),
    Case(
        "reports_and_claims_deleted",
        "as of 2099-01-01: two old reports (four blobs) and every claim check deleted, one page",
        _run("2099-01-01T02:00:00+00:00"),
    ),
)

SUITE = Suite("retention", batch_storage.APP, CASES, env=batch_storage.env, azurite=True)
