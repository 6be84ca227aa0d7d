"""The supervisor's policy (docs/operations.md, "Stuck jobs"): which unfinished jobs are stuck and
what is done about each, from snapshots and a given `now` (no clock, no SDK)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, model_validator

from domain.payload import Model, NullsWritten, Timestamp


class Action(StrEnum):
    """What the supervisor does about one job."""

    REPORT = "report"
    CANCEL = "cancel"
    TERMINATE = "terminate"
    REWIND = "rewind"


class Finding(StrEnum):
    """Why a job was picked."""

    OVERDUE = "overdue"
    STUCK_PENDING = "stuck_pending"
    FAILED = "failed"


RUNNING = "Running"
PENDING = "Pending"
FAILED = "Failed"
WATCHED_STATUSES = (RUNNING, PENDING, FAILED)


Seconds = Annotated[float, Field(gt=0)]
# A set of names, written sorted so the same set is always the same JSON.
Names = Annotated[frozenset[str], PlainSerializer(sorted, return_type=list[str], when_used="json")]


class JobRule(NullsWritten):
    """How one orchestrator is supervised; `expected_seconds` is how long a healthy run may take."""

    orchestrator: Annotated[str, Field(min_length=1)]
    expected_seconds: Seconds
    cancel_event: str | None = None
    not_cancellable_steps: Names = Field(
        frozenset(), description="Custom-status steps at which the cancel event is not sent."
    )
    terminate_after_seconds: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Terminate once overdue by this much more; None: never."
    )
    rewind_failed: bool = False


class SupervisionPolicy(NullsWritten):
    """Rules per orchestrator, a default for the rest, and the limits that apply to all."""

    rules: tuple[JobRule, ...] = ()
    default_expected_seconds: Seconds = 86400.0
    max_pending_seconds: Seconds = 1800.0
    rewind_window_seconds: Seconds = Field(
        3600.0, description="Failed instances older than this are never rewound."
    )
    exempt: Names = Field(
        frozenset(), description="Instances never touched (the supervisor's own)."
    )

    @model_validator(mode="after")
    def _one_rule_per_orchestrator(self) -> SupervisionPolicy:
        names = [rule.orchestrator for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rules: each orchestrator at most once")
        return self

    def rule_for(self, orchestrator: str) -> JobRule:
        """The orchestrator's rule; unknown orchestrators are only reported, never acted on."""
        for rule in self.rules:
            if rule.orchestrator == orchestrator:
                return rule
        return JobRule(orchestrator=orchestrator, expected_seconds=self.default_expected_seconds)


class JobSnapshot(NullsWritten):
    """What the supervisor knows about one instance: ids, status and times; never its data."""

    instance_id: str
    orchestrator: str
    runtime_status: str
    created_at: Timestamp
    last_updated_at: Timestamp
    step: str | None = None


class Decision(NullsWritten):
    """One job and what to do about it; `age_seconds`: how long it has been running (or failed)."""

    job: JobSnapshot
    finding: Finding
    action: Action
    age_seconds: float
    limit_seconds: float
    cancel_event: str | None = None

    @property
    def reason(self) -> str:
        """Ids and durations only, safe in logs, events and termination reasons."""
        what = {
            Finding.OVERDUE: "running",
            Finding.STUCK_PENDING: "pending",
            Finding.FAILED: "failed",
        }[self.finding]
        return (
            f"supervisor: {self.job.orchestrator} {what} for {_round(self.age_seconds)} "
            f"(limit {_round(self.limit_seconds)})"
        )


class SupervisorRun(NullsWritten):
    """The supervisor orchestration's input: the policy and the snapshot the timer took."""

    policy: SupervisionPolicy
    jobs: tuple[JobSnapshot, ...] = ()


class SupervisionReport(NullsWritten):
    """`report_supervision`'s input: the decisions to log and count."""

    decisions: tuple[Decision, ...] = ()


class SupervisionReported(Model):
    """`report_supervision`'s result: how many decisions it logged and counted."""

    reported: int


class SupervisorResult(NullsWritten):
    """The supervisor orchestration's output: how many jobs it checked, and its decisions
    (oldest first), measured at `at` on the task hub's clock."""

    checked: Annotated[int, Field(ge=0)]
    decisions: tuple[Decision, ...] = ()
    at: Timestamp


def _round(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


def decide(job: JobSnapshot, policy: SupervisionPolicy, now: datetime) -> Decision | None:
    """What to do about one job now; None when it is healthy (or exempt)."""
    if job.instance_id in policy.exempt:
        return None
    rule = policy.rule_for(job.orchestrator)
    if job.runtime_status == FAILED:
        finding, limit, since = Finding.FAILED, policy.rewind_window_seconds, job.last_updated_at
    elif job.runtime_status == PENDING:
        finding, limit, since = Finding.STUCK_PENDING, policy.max_pending_seconds, job.created_at
    elif job.runtime_status == RUNNING:
        finding, limit, since = Finding.OVERDUE, rule.expected_seconds, job.created_at
    else:
        return None  # Completed, Terminated, ContinuedAsNew...: nothing to supervise
    age = (now - since).total_seconds()
    found: dict[str, Any] = dict(job=job, finding=finding, age_seconds=age, limit_seconds=limit)
    if finding is Finding.FAILED:  # rewound while recent, when the orchestrator opted in
        recent = rule.rewind_failed and age <= limit
        return Decision(action=Action.REWIND, **found) if recent else None
    if age <= limit:
        return None
    if rule.terminate_after_seconds is not None and age > limit + rule.terminate_after_seconds:
        return Decision(action=Action.TERMINATE, **found)
    if rule.cancel_event is not None and job.step not in rule.not_cancellable_steps:
        return Decision(action=Action.CANCEL, cancel_event=rule.cancel_event, **found)
    return Decision(action=Action.REPORT, **found)


def plan(jobs: Iterable[JobSnapshot], policy: SupervisionPolicy, now: datetime) -> list[Decision]:
    """A decision for every job that needs one, oldest first."""
    decisions = [d for job in jobs if (d := decide(job, policy, now)) is not None]
    return sorted(decisions, key=lambda d: (-d.age_seconds, d.job.instance_id))


def parse_durations(pairs: Iterable[str], setting: str) -> dict[str, timedelta]:
    """`name=ISO 8601 duration` pairs (e.g. `process_order=P4D`), as a list setting holds them.

    Raises ValueError naming the setting for anything else: a silently ignored limit
    would let stuck jobs go unnoticed.
    """
    durations: dict[str, timedelta] = {}
    for pair in pairs:
        name, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not name or not value:
            raise ValueError(f"{setting}: expected name=duration, got {pair.strip()!r}")
        durations[name] = parse_duration(value, f"{setting} ({name})")
    return durations


# ISO 8601 durations in days and smaller units: years and months have no fixed length.
_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str, setting: str) -> timedelta:
    """A positive ISO 8601 duration in days, hours, minutes or seconds (`P4D`, `PT30M`)."""
    upper = text.strip().upper()
    found = _DURATION.match(upper)
    if found is None or upper == "P" or upper.endswith("T"):  # "P" and "P1DT" say nothing
        raise ValueError(
            f"{setting}: {text!r} is not an ISO 8601 duration in days, hours, minutes or "
            "seconds (e.g. P4D, PT30M)"
        )
    value = timedelta(
        **{unit: float(amount) for unit, amount in found.groupdict(default="0").items()}
    )
    if value <= timedelta(0):
        raise ValueError(f"{setting}: {text!r} must be longer than zero")
    return value
