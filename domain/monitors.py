"""The monitor job's rules with no I/O: its request, the state it carries, its schedule, its end."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from domain.job_updates import ResultRouting
from domain.monitor_conditions import MonitorCondition
from domain.outbound import DOCUMENTED_PATTERN, MAX_URL_LENGTH, CallbackUrl
from domain.payload import CorrelationId, Model, NullsWritten, Timestamp

MONITOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MONITOR_ID = re.compile(MONITOR_ID_PATTERN)
INSTANCE_PREFIX = "monitor-"
JOB_TYPE = "monitor"

MIN_INTERVAL_SECONDS = 5
MAX_INTERVAL_SECONDS = 24 * 3600
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_MAX_INTERVAL_SECONDS = 600
DEFAULT_BACKOFF_FACTOR = 1.5
MAX_BACKOFF_FACTOR = 10.0
DEFAULT_EXPIRES_IN_SECONDS = 24 * 3600
MAX_EXPIRES_IN_SECONDS = 30 * 24 * 3600
MAX_REASON = 300


class MonitorStep(StrEnum):
    """Where a monitor is; also how it ended (the last four)."""

    POLLING = "polling"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


MonitorEnding = Literal["completed", "failed", "expired", "cancelled"]


def instance_id_for(monitor_id: str) -> str:
    return INSTANCE_PREFIX + monitor_id


MonitorId = Annotated[
    str,
    Field(
        pattern=MONITOR_ID_PATTERN,
        description="1-64 letters, digits, '_' or '-', starting with a letter or digit.",
    ),
]
# Like a callback URL, the pattern documents the public form; the guard decides (check_urls).
StatusUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_LENGTH,
        json_schema_extra={"pattern": DOCUMENTED_PATTERN},
        description="The URL to GET; it must answer JSON of at most 64 KiB. Up to 3 redirects "
        "are followed, each hop vetted again (allow-list settings: OUTBOUND_ALLOWED_HOSTS, "
        "WEBHOOK_ALLOWED_HOSTS). The same URL rules as callback_url: the pattern is the form "
        "this document promises to accept in Azure; the app also takes a public IP address "
        "literal, never a private, loopback, link-local or metadata address.",
    ),
]


def _seconds(low: float, high: float, default: float | None, description: str) -> Any:
    """A field of seconds (or a factor) from `low` to `high`; null is the same as absent."""
    extra = {} if default is None else {"default": default}
    return Field(None, ge=low, le=high, description=description, json_schema_extra=extra)


class MonitorRequest(Model):
    """A monitor of an external long-running operation (POST /api/monitors, /api/jobs/monitor).

    null is the same as a missing optional member. `max_interval_seconds` and
    `expires_in_seconds` are at least `interval_seconds` (30 when it is not given): the
    `if`/`then` states the default's case; JSON Schema cannot compare two members. Both URLs
    must pass the outbound guard, whose allow-list is a setting: they are vetted when the
    monitor starts, and a refused one is a problem like any other.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"interval_seconds": {"type": "null"}}},
            "then": {
                "properties": {
                    "max_interval_seconds": {"minimum": DEFAULT_INTERVAL_SECONDS},
                    "expires_in_seconds": {"minimum": DEFAULT_INTERVAL_SECONDS},
                }
            },
        }
    )

    monitor_id: MonitorId | None = Field(
        None,
        description="The caller's id for the monitor (the job id is `monitor-<monitor_id>`); "
        "one monitor id runs at most once. Generated when missing.",
    )
    status_url: StatusUrl
    condition: MonitorCondition
    failure_condition: MonitorCondition | None = Field(
        None, description="When it holds, the monitor ends `failed` at once."
    )
    # interval_seconds first: the two rules below compare with it.
    interval_seconds: float | None = _seconds(
        MIN_INTERVAL_SECONDS,
        MAX_INTERVAL_SECONDS,
        DEFAULT_INTERVAL_SECONDS,
        "The first wait between polls.",
    )
    backoff_factor: float | None = _seconds(
        1,
        MAX_BACKOFF_FACTOR,
        DEFAULT_BACKOFF_FACTOR,
        "Each wait is the previous one times this, up to max_interval_seconds.",
    )
    max_interval_seconds: float | None = _seconds(
        MIN_INTERVAL_SECONDS,
        MAX_INTERVAL_SECONDS,
        None,
        "The longest wait; at least interval_seconds (30 when that is not given); default the "
        f"larger of interval_seconds and {DEFAULT_MAX_INTERVAL_SECONDS}.",
    )
    expires_in_seconds: float | None = _seconds(
        MIN_INTERVAL_SECONDS,
        MAX_EXPIRES_IN_SECONDS,
        DEFAULT_EXPIRES_IN_SECONDS,
        "How long to poll, from the monitor's start; at least interval_seconds (30 when that "
        "is not given). The last poll is at the expiry.",
    )
    callback_url: CallbackUrl | None = None

    @field_validator("max_interval_seconds", "expires_in_seconds", mode="after")
    @classmethod
    def _not_below_the_interval(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None or "interval_seconds" not in info.data:
            return value  # not given (its default is never below), or the interval has a problem
        interval = info.data["interval_seconds"]
        if value < (DEFAULT_INTERVAL_SECONDS if interval is None else interval):
            raise ValueError(
                f"at least interval_seconds ({DEFAULT_INTERVAL_SECONDS} when it is not given)"
            )
        return value


class MonitorState(NullsWritten):
    """The orchestration's input, carried from one run to the next by continue-as-new.

    `started_at` and `expires_at` are set by the first run from the orchestration's clock;
    `sequence` counts the job updates published so far, so numbering goes on across runs.
    """

    monitor_id: MonitorId
    status_url: str
    condition: MonitorCondition
    failure_condition: MonitorCondition | None = None
    interval_seconds: float
    max_interval_seconds: float
    backoff_factor: float
    expires_in_seconds: float
    correlation_id: str | None = None
    routing: ResultRouting = ResultRouting()
    started_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    polls: int = 0
    sequence: int = 0
    last_error: str | None = None
    last_http_status: int | None = None

    @classmethod
    def start(
        cls, request: MonitorRequest, monitor_id: str, correlation_id: str | None
    ) -> MonitorState:
        """The first run's state, with the request's defaults filled in (no limit can be 0)."""
        interval = float(request.interval_seconds or DEFAULT_INTERVAL_SECONDS)
        max_interval = request.max_interval_seconds or max(interval, DEFAULT_MAX_INTERVAL_SECONDS)
        return cls(
            monitor_id=monitor_id,
            status_url=request.status_url,
            condition=request.condition,
            failure_condition=request.failure_condition,
            interval_seconds=interval,
            max_interval_seconds=max_interval,
            backoff_factor=request.backoff_factor or DEFAULT_BACKOFF_FACTOR,
            expires_in_seconds=float(request.expires_in_seconds or DEFAULT_EXPIRES_IN_SECONDS),
            correlation_id=correlation_id,
            routing=ResultRouting(callback_url=request.callback_url),
        )

    def _with(self, **changes: Any) -> MonitorState:
        """A copy with `changes`, validated (model_copy would not normalise a timestamp)."""
        return self.model_validate({**dict(self), **changes})

    def begun(self, now: datetime) -> MonitorState:
        """The state with its clock set, once, by the first run."""
        if self.started_at is not None:
            return self
        expires = now + timedelta(seconds=self.expires_in_seconds)
        return self._with(started_at=now, expires_at=expires)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def next_wait(self, now: datetime) -> timedelta:
        """The wait before the next poll: the current interval, cut short at the expiry."""
        wait = timedelta(seconds=self.interval_seconds)
        if self.expires_at is not None:
            wait = min(wait, self.expires_at - now)
        return max(wait, timedelta(0))

    def after_poll(self, http_status: int | None, error: str | None) -> MonitorState:
        """The state once a poll that did not end the monitor is counted."""
        return self._with(
            polls=self.polls + 1,
            last_error=error[:MAX_REASON] if error else None,
            last_http_status=http_status,
        )

    def published(self, sequence: int) -> MonitorState:
        """The state once updates up to `sequence` are published."""
        return self._with(sequence=sequence)

    def backed_off(self) -> MonitorState:
        """The state for the next run: the interval grows by the backoff factor up to the cap."""
        grown = min(self.interval_seconds * self.backoff_factor, self.max_interval_seconds)
        return self._with(interval_seconds=max(grown, self.interval_seconds))

    def progress(self, now: datetime) -> int:
        """Percent of the time to expiry used, 0-99 while the monitor runs."""
        if self.started_at is None or self.expires_at is None:
            return 0
        total = (self.expires_at - self.started_at).total_seconds()
        used = (now - self.started_at).total_seconds()
        return max(0, min(99, int(100 * used / total))) if total > 0 else 99


def custom_status(step: MonitorStep, progress: int) -> dict[str, Any]:
    """What GET /api/jobs/{id} shows as step and progress."""
    return {"step": str(step), "progress": 100 if step in get_args(MonitorEnding) else progress}


class MonitorResult(Model):
    """A monitor's outcome: counts and times only, never the status document."""

    monitor_id: MonitorId
    status: MonitorEnding = Field(
        description="completed: the condition held; failed: the failure condition held or a "
        "poll failed permanently (reason); expired: neither held in time; cancelled: on request."
    )
    polls: Annotated[int, Field(ge=0)]
    started_at: Timestamp
    ended_at: Timestamp
    last_http_status: int | None = None
    reason: Annotated[str, Field(max_length=MAX_REASON)] | None = None


def monitor_result(
    state: MonitorState, ending: MonitorStep, ended_at: datetime, reason: str | None = None
) -> MonitorResult:
    """The monitor's outcome; the first run set `started_at` (a state never begun ends now)."""
    return MonitorResult(
        monitor_id=state.monitor_id,
        status=cast(MonitorEnding, str(ending)),
        polls=state.polls,
        started_at=state.started_at or ended_at,
        ended_at=ended_at,
        last_http_status=state.last_http_status,
        reason=reason[:MAX_REASON] if reason else None,
    )


class PollRequest(NullsWritten):
    """The poll activity's input: where to look and what to test, nothing else."""

    url: Annotated[str, Field(min_length=1)]
    condition: MonitorCondition
    failure_condition: MonitorCondition | None = None
    monitor_id: MonitorId
    poll: Annotated[int, Field(ge=1, description="The poll's number, from 1 across runs.")]
    correlation_id: CorrelationId | None = None


class PollOutcome(Model):
    """The poll activity's result: whether each condition holds, never the document itself."""

    http_status: int
    done: bool
    failed: bool
    redirects: int = 0
