"""The supervisor's policy: which unfinished jobs are stuck, and what is done about each one.

Plain rules over snapshots of orchestration instances, so they are tested without the SDK and
run unchanged inside the supervisor orchestrator (they read no clock: `now` is passed in).

The policy, in order of escalation (docs/operations.md, "Stuck jobs"):
- a Running instance older than its orchestrator's expected duration, or a Pending one older
  than the pending limit, is overdue and always reported;
- an overdue job whose orchestrator may be terminated, and that is overdue by more than its
  grace on top, is terminated (no compensation runs: only for jobs with nothing to undo);
- otherwise an overdue job that takes a cancel event, at a step where cancelling is allowed,
  gets the event (its own compensation runs);
- otherwise it is only reported, for a human to decide;
- a Failed instance is rewound only when its orchestrator opted in and it failed recently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class SupervisionError(ValueError):
    """A policy or a snapshot that cannot be used; the message names what is wrong."""


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


@dataclass(frozen=True)
class JobRule:
    """How one orchestrator is supervised; `expected` is how long a healthy run may take."""

    orchestrator: str
    expected: timedelta
    cancel_event: str | None = None
    # Custom-status steps at which the cancel event must not be sent (e.g. goods shipped).
    not_cancellable_steps: frozenset[str] = frozenset()
    # Terminate once overdue by this much more; None: never terminate automatically.
    terminate_after: timedelta | None = None
    rewind_failed: bool = False

    def __post_init__(self) -> None:
        if not self.orchestrator:
            raise SupervisionError("a job rule needs an orchestrator name")
        if self.expected <= timedelta(0):
            raise SupervisionError(f"{self.orchestrator}: the expected duration must be > 0")
        if self.terminate_after is not None and self.terminate_after < timedelta(0):
            raise SupervisionError(f"{self.orchestrator}: terminate_after must not be negative")

    def to_dict(self) -> dict[str, Any]:
        return {
            "orchestrator": self.orchestrator,
            "expected_seconds": self.expected.total_seconds(),
            "cancel_event": self.cancel_event,
            "not_cancellable_steps": sorted(self.not_cancellable_steps),
            "terminate_after_seconds": (
                None if self.terminate_after is None else self.terminate_after.total_seconds()
            ),
            "rewind_failed": self.rewind_failed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobRule:
        after = data.get("terminate_after_seconds")
        return cls(
            orchestrator=data["orchestrator"],
            expected=timedelta(seconds=float(data["expected_seconds"])),
            cancel_event=data.get("cancel_event"),
            not_cancellable_steps=frozenset(data.get("not_cancellable_steps") or ()),
            terminate_after=None if after is None else timedelta(seconds=float(after)),
            rewind_failed=bool(data.get("rewind_failed")),
        )


@dataclass(frozen=True)
class SupervisionPolicy:
    """Rules per orchestrator, a default for the rest, and the limits that apply to all."""

    rules: Mapping[str, JobRule] = field(default_factory=dict)
    default_expected: timedelta = timedelta(hours=24)
    max_pending: timedelta = timedelta(minutes=30)
    # Failed instances older than this are history, never rewound.
    rewind_window: timedelta = timedelta(hours=1)
    # Instances the supervisor never touches (its own instance).
    exempt: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name, limit in (
            ("default_expected", self.default_expected),
            ("max_pending", self.max_pending),
            ("rewind_window", self.rewind_window),
        ):
            if limit <= timedelta(0):
                raise SupervisionError(f"{name} must be a positive duration")

    def rule_for(self, orchestrator: str) -> JobRule:
        """The orchestrator's rule; unknown orchestrators are only reported, never acted on."""
        rule = self.rules.get(orchestrator)
        return rule if rule is not None else JobRule(orchestrator, self.default_expected)

    @property
    def shortest_limit(self) -> timedelta:
        """No instance younger than this can be picked: the listing may skip newer ones."""
        limits = [self.max_pending, self.default_expected, self.rewind_window]
        limits += [rule.expected for rule in self.rules.values()]
        return min(limits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [rule.to_dict() for rule in self.rules.values()],
            "default_expected_seconds": self.default_expected.total_seconds(),
            "max_pending_seconds": self.max_pending.total_seconds(),
            "rewind_window_seconds": self.rewind_window.total_seconds(),
            "exempt": sorted(self.exempt),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SupervisionPolicy:
        rules = [JobRule.from_dict(item) for item in data.get("rules") or ()]
        return cls(
            rules={rule.orchestrator: rule for rule in rules},
            default_expected=timedelta(seconds=float(data["default_expected_seconds"])),
            max_pending=timedelta(seconds=float(data["max_pending_seconds"])),
            rewind_window=timedelta(seconds=float(data["rewind_window_seconds"])),
            exempt=frozenset(data.get("exempt") or ()),
        )


@dataclass(frozen=True)
class JobSnapshot:
    """What the supervisor knows about one instance: ids, status and times; never its data."""

    instance_id: str
    orchestrator: str
    runtime_status: str
    created_at: datetime
    last_updated_at: datetime
    step: str | None = None

    def __post_init__(self) -> None:
        for moment in (self.created_at, self.last_updated_at):
            if moment.tzinfo is None:
                raise SupervisionError(f"{self.instance_id}: times must carry a time zone")

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "orchestrator": self.orchestrator,
            "runtime_status": self.runtime_status,
            "created_at": self.created_at.isoformat(),
            "last_updated_at": self.last_updated_at.isoformat(),
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSnapshot:
        return cls(
            instance_id=data["instance_id"],
            orchestrator=data["orchestrator"],
            runtime_status=data["runtime_status"],
            created_at=datetime.fromisoformat(data["created_at"]),
            last_updated_at=datetime.fromisoformat(data["last_updated_at"]),
            step=data.get("step"),
        )


@dataclass(frozen=True)
class Decision:
    """One job and what to do about it; `age` is how long it has been running (or failed)."""

    job: JobSnapshot
    finding: Finding
    action: Action
    age: timedelta
    limit: timedelta
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
            f"supervisor: {self.job.orchestrator} {what} for {_round(self.age)} "
            f"(limit {_round(self.limit)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job.to_dict(),
            "finding": str(self.finding),
            "action": str(self.action),
            "age_seconds": self.age.total_seconds(),
            "limit_seconds": self.limit.total_seconds(),
            "cancel_event": self.cancel_event,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            job=JobSnapshot.from_dict(data["job"]),
            finding=Finding(data["finding"]),
            action=Action(data["action"]),
            age=timedelta(seconds=float(data["age_seconds"])),
            limit=timedelta(seconds=float(data["limit_seconds"])),
            cancel_event=data.get("cancel_event"),
        )


def _round(duration: timedelta) -> str:
    return str(timedelta(seconds=int(duration.total_seconds())))


def decide(job: JobSnapshot, policy: SupervisionPolicy, now: datetime) -> Decision | None:
    """What to do about one job now; None when it is healthy (or exempt)."""
    if job.instance_id in policy.exempt:
        return None
    rule = policy.rule_for(job.orchestrator)
    if job.runtime_status == FAILED:
        age = now - job.last_updated_at
        if rule.rewind_failed and age <= policy.rewind_window:
            return Decision(job, Finding.FAILED, Action.REWIND, age, policy.rewind_window)
        return None
    if job.runtime_status == PENDING:
        finding, limit = Finding.STUCK_PENDING, policy.max_pending
    elif job.runtime_status == RUNNING:
        finding, limit = Finding.OVERDUE, rule.expected
    else:
        return None  # Completed, Terminated, ContinuedAsNew...: nothing to supervise
    age = now - job.created_at
    if age <= limit:
        return None
    if rule.terminate_after is not None and age > limit + rule.terminate_after:
        return Decision(job, finding, Action.TERMINATE, age, limit)
    if rule.cancel_event is not None and job.step not in rule.not_cancellable_steps:
        return Decision(job, finding, Action.CANCEL, age, limit, rule.cancel_event)
    return Decision(job, finding, Action.REPORT, age, limit)


def plan(jobs: Iterable[JobSnapshot], policy: SupervisionPolicy, now: datetime) -> list[Decision]:
    """A decision for every job that needs one, oldest first."""
    decisions = [d for job in jobs if (d := decide(job, policy, now)) is not None]
    return sorted(decisions, key=lambda d: (-d.age, d.job.instance_id))


def parse_durations(text: str, setting: str) -> dict[str, timedelta]:
    """`name=ISO 8601 duration` pairs separated by `;` or `,` (e.g. `process_order=P4D`).

    Raises SupervisionError naming the setting for anything else: a silently ignored limit
    would let stuck jobs go unnoticed.
    """
    durations: dict[str, timedelta] = {}
    for part in text.replace(",", ";").split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise SupervisionError(f"{setting}: expected name=duration, got {part.strip()!r}")
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
        raise SupervisionError(
            f"{setting}: {text!r} is not an ISO 8601 duration in days, hours, minutes or "
            "seconds (e.g. P4D, PT30M)"
        )
    value = timedelta(
        **{unit: float(amount) for unit, amount in found.groupdict(default="0").items()}
    )
    if value <= timedelta(0):
        raise SupervisionError(f"{setting}: {text!r} must be longer than zero")
    return value
