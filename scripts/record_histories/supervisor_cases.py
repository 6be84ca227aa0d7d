"""The supervisor's representative paths on the batch_jobs app (the real supervisor orchestration
and report activity), started as earlier versions of its timer started it: with the policy and a
snapshot of unfinished instances as its input. The timer now decides itself; the orchestration
stays for instances those versions left in flight (orchestrators/supervisor.py).

The supervisor measures ages against its own clock, which in devhost runs on from the real
one: the snapshots are dated a fixed time before the host's clock, so the findings are always
the same, while the times and ages in the input and the report differ on re-recording by the
seconds between the two (as every timestamp in a history does).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.supervision import JobRule, JobSnapshot, SupervisionPolicy, SupervisorRun
from orchestrators.supervisor import ORCHESTRATOR
from scripts.record_histories import batch_storage
from scripts.record_histories.recording import Case, Session, Suite

POLICY = SupervisionPolicy(
    rules=(
        JobRule(
            orchestrator="process_order",
            expected_seconds=30 * 60,
            cancel_event="CancelOrder",
            not_cancellable_steps=frozenset({"shipping"}),
        ),
        JobRule(
            orchestrator="make_thumbnails",
            expected_seconds=10 * 60,
            terminate_after_seconds=30 * 60,
        ),
        JobRule(orchestrator="nightly_report", expected_seconds=2 * 3600, rewind_failed=True),
    ),
    exempt=frozenset({"job-supervisor"}),
)
# (instance id, orchestrator, status, minutes old, step): what each case's snapshot holds.
Job = tuple[str, str, str, int, str | None]
HEALTHY: tuple[Job, ...] = (
    ("order-hist-fresh", "process_order", "Running", 5, "taking_payment"),
    ("thumb-hist-fresh", "make_thumbnails", "Running", 2, None),
    ("nightly-report-2024-02-28", "nightly_report", "Failed", 600, None),  # past rewinding
)
TROUBLED: tuple[Job, ...] = (
    ("order-hist-stuck", "process_order", "Running", 120, "reserving_stock"),
    ("order-hist-shipping", "process_order", "Running", 90, "shipping"),
    ("thumb-hist-hung", "make_thumbnails", "Running", 60, None),
    ("order-hist-pending", "process_order", "Pending", 45, None),
    ("nightly-report-2024-02-29", "nightly_report", "Failed", 20, None),
    ("order-hist-fresh", "process_order", "Running", 5, "taking_payment"),
)


def _snapshot(now: datetime, jobs: tuple[Job, ...]) -> list[JobSnapshot]:
    return [
        JobSnapshot(
            instance_id=instance_id,
            orchestrator=name,
            runtime_status=status,
            created_at=now - timedelta(minutes=age),
            last_updated_at=now,
            step=step,
        )
        for instance_id, name, status, age, step in jobs
    ]


def _run(case: str, jobs: tuple[Job, ...]) -> Callable[[Session], str]:
    def drive(session: Session) -> str:
        clock = session.host.set_time(auto_advance=True)
        now = datetime.fromtimestamp(clock["now"], UTC)
        run = SupervisorRun(policy=POLICY, jobs=tuple(_snapshot(now, jobs)))
        instance_id = f"job-supervisor-{case.replace('_', '-')}"
        status = session.host.run_orchestration(ORCHESTRATOR, run.dump(), instance_id)
        if status["runtimeStatus"] != "Completed":
            raise RuntimeError(f"{instance_id} ended {status['runtimeStatus']}: {status}")
        return instance_id

    return drive


CASES = (
    Case(
        "all_healthy",
        "three unfinished jobs within their limits (or past rewinding): nothing reported",
        _run("all_healthy", HEALTHY),
    ),
    Case(
        "findings",
        "overdue, stuck pending and recently failed jobs: cancel, report, terminate and "
        "rewind decisions reported",
        _run("findings", TROUBLED),
    ),
)

SUITE = Suite(ORCHESTRATOR, batch_storage.APP, CASES, env=batch_storage.env, azurite=True)
