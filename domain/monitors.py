"""The monitor job's rules with no I/O: its request, the state it carries, its schedule, its end.

A monitor polls a caller's status URL until a condition on the JSON answer holds, a failure
condition holds, or it expires. Waits grow by a backoff factor up to a cap, and the last wait
ends exactly at the expiry, so the last poll happens then. The orchestration continues as new
after every wait, carrying `MonitorState` as its input, so its history stays a few events long
however long the monitor runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.job_updates import ResultRouting
from domain.monitor_conditions import InvalidCondition, condition_to_dict, parse_condition
from domain.order_payloads import InvalidPayload
from domain.outbound import AllowList, InvalidOutboundUrl, parse_outbound_url

MONITOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
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
MAX_CORRELATION_ID = 128
MAX_REASON = 300


class MonitorStep(StrEnum):
    """Where a monitor is; also how it ended (the last four)."""

    POLLING = "polling"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


ENDINGS = frozenset(
    {MonitorStep.COMPLETED, MonitorStep.FAILED, MonitorStep.EXPIRED, MonitorStep.CANCELLED}
)


def instance_id_for(monitor_id: str) -> str:
    return INSTANCE_PREFIX + monitor_id


class InvalidMonitorRequest(ValueError):
    """A monitor request that can never run; `problems` name fields, never their values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MonitorRequest:
    """A validated POST /api/monitors body."""

    monitor_id: str | None
    status_url: str
    condition: dict[str, Any]
    failure_condition: dict[str, Any] | None
    interval_seconds: float
    max_interval_seconds: float
    backoff_factor: float
    expires_in_seconds: float
    callback_url: str | None


def parse_monitor_request(body: Any, allowed: AllowList) -> MonitorRequest:
    """Vet a caller's monitor request; raises InvalidMonitorRequest listing every problem.

    Both URLs pass the outbound guard's URL rules here (and again, address by address, at
    every call); an allow-listed host may use http and private addresses (local use only).
    """
    if not isinstance(body, Mapping):
        raise InvalidMonitorRequest(["the body must be a JSON object"])
    problems: list[str] = []
    monitor_id = body.get("monitor_id")
    if monitor_id is not None and (
        not isinstance(monitor_id, str) or not MONITOR_ID.fullmatch(monitor_id)
    ):
        problems.append(
            "monitor_id: 1-64 letters, digits, '_' or '-', starting with one of the first two"
        )
        monitor_id = None
    status_url = body.get("status_url")
    _vet_url(status_url, "status_url", "status URL", allowed, problems)
    callback_url = body.get("callback_url")
    if callback_url is not None:
        _vet_url(callback_url, "callback_url", "callback URL", allowed, problems)
    condition = _condition(body.get("condition"), "condition", problems, required=True)
    failure = _condition(body.get("failure_condition"), "failure_condition", problems)
    interval = _seconds(
        body,
        "interval_seconds",
        DEFAULT_INTERVAL_SECONDS,
        MIN_INTERVAL_SECONDS,
        MAX_INTERVAL_SECONDS,
        problems,
    )
    max_interval = _seconds(
        body,
        "max_interval_seconds",
        max(interval, DEFAULT_MAX_INTERVAL_SECONDS),
        interval,
        MAX_INTERVAL_SECONDS,
        problems,
    )
    factor = _seconds(
        body, "backoff_factor", DEFAULT_BACKOFF_FACTOR, 1.0, MAX_BACKOFF_FACTOR, problems
    )
    expires_in = _seconds(
        body,
        "expires_in_seconds",
        DEFAULT_EXPIRES_IN_SECONDS,
        interval,
        MAX_EXPIRES_IN_SECONDS,
        problems,
    )
    if problems or condition is None:
        raise InvalidMonitorRequest(problems)
    return MonitorRequest(
        monitor_id=monitor_id,
        status_url=status_url,
        condition=condition,
        failure_condition=failure,
        interval_seconds=interval,
        max_interval_seconds=max_interval,
        backoff_factor=factor,
        expires_in_seconds=expires_in,
        callback_url=callback_url,
    )


def _vet_url(url: Any, name: str, what: str, allowed: AllowList, problems: list[str]) -> None:
    if url is None and name == "status_url":
        problems.append("status_url: required, the https URL to poll")
        return
    try:
        parse_outbound_url(url, allowed, what=what)
    except InvalidOutboundUrl as invalid:
        problems.extend(f"{name}: {problem}" for problem in invalid.problems)


def _condition(
    data: Any, name: str, problems: list[str], *, required: bool = False
) -> dict[str, Any] | None:
    if data is None:
        if required:
            problems.append(f'{name}: required, e.g. {{"pointer": "/status", "equals": "done"}}')
        return None
    try:
        return condition_to_dict(parse_condition(data, name))
    except InvalidCondition as invalid:
        problems.extend(invalid.problems)
        return None


def _seconds(
    body: Mapping[str, Any],
    name: str,
    default: float,
    low: float,
    high: float,
    problems: list[str],
) -> float:
    value = body.get(name)
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        problems.append(f"{name}: a number from {low:g} to {high:g}")
        return float(default)
    return float(value)


@dataclass(frozen=True)
class MonitorState:
    """The orchestration's input, carried from one run to the next by continue-as-new.

    `started_at` and `expires_at` are set by the first run from the orchestration's clock;
    `sequence` counts the job updates published so far, so numbering goes on across runs.
    """

    monitor_id: str
    status_url: str
    condition: dict[str, Any]
    failure_condition: dict[str, Any] | None
    interval_seconds: float
    max_interval_seconds: float
    backoff_factor: float
    expires_in_seconds: float
    correlation_id: str | None = None
    routing: ResultRouting = field(default_factory=ResultRouting)
    started_at: str | None = None
    expires_at: str | None = None
    polls: int = 0
    sequence: int = 0
    last_error: str | None = None
    last_http_status: int | None = None

    @classmethod
    def start(
        cls, request: MonitorRequest, monitor_id: str, correlation_id: str | None
    ) -> MonitorState:
        return cls(
            monitor_id=monitor_id,
            status_url=request.status_url,
            condition=request.condition,
            failure_condition=request.failure_condition,
            interval_seconds=request.interval_seconds,
            max_interval_seconds=request.max_interval_seconds,
            backoff_factor=request.backoff_factor,
            expires_in_seconds=request.expires_in_seconds,
            correlation_id=correlation_id,
            routing=ResultRouting(callback_url=request.callback_url),
        )

    def begun(self, now: datetime) -> MonitorState:
        """The state with its clock set, once, by the first run."""
        if self.started_at is not None:
            return self
        expires = now + timedelta(seconds=self.expires_in_seconds)
        return replace(self, started_at=now.isoformat(), expires_at=expires.isoformat())

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= datetime.fromisoformat(self.expires_at)

    def next_wait(self, now: datetime) -> timedelta:
        """The wait before the next poll: the current interval, cut short at the expiry."""
        wait = timedelta(seconds=self.interval_seconds)
        if self.expires_at is not None:
            wait = min(wait, datetime.fromisoformat(self.expires_at) - now)
        return max(wait, timedelta(0))

    def after_poll(self, http_status: int | None, error: str | None) -> MonitorState:
        """The state once a poll that did not end the monitor is counted."""
        return replace(
            self,
            polls=self.polls + 1,
            last_error=error[:MAX_REASON] if error else None,
            last_http_status=http_status,
        )

    def backed_off(self) -> MonitorState:
        """The state for the next run: the interval grows by the backoff factor up to the cap."""
        grown = min(self.interval_seconds * self.backoff_factor, self.max_interval_seconds)
        return replace(self, interval_seconds=max(grown, self.interval_seconds))

    def progress(self, now: datetime) -> int:
        """Percent of the time to expiry used, 0-99 while the monitor runs."""
        if self.started_at is None or self.expires_at is None:
            return 0
        start, end = (
            datetime.fromisoformat(self.started_at),
            datetime.fromisoformat(self.expires_at),
        )
        total = (end - start).total_seconds()
        used = (now - start).total_seconds()
        return max(0, min(99, int(100 * used / total))) if total > 0 else 99

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor_id": self.monitor_id,
            "status_url": self.status_url,
            "condition": self.condition,
            "failure_condition": self.failure_condition,
            "interval_seconds": self.interval_seconds,
            "max_interval_seconds": self.max_interval_seconds,
            "backoff_factor": self.backoff_factor,
            "expires_in_seconds": self.expires_in_seconds,
            "correlation_id": self.correlation_id,
            "routing": self.routing.to_dict(),
            "started_at": self.started_at,
            "expires_at": self.expires_at,
            "polls": self.polls,
            "sequence": self.sequence,
            "last_error": self.last_error,
            "last_http_status": self.last_http_status,
        }

    @classmethod
    def from_dict(cls, data: Any) -> MonitorState:
        if not isinstance(data, Mapping):
            raise InvalidPayload("the monitor's input must be a JSON object")
        try:
            state = cls(
                monitor_id=data["monitor_id"],
                status_url=data["status_url"],
                condition=data["condition"],
                failure_condition=data.get("failure_condition"),
                interval_seconds=float(data["interval_seconds"]),
                max_interval_seconds=float(data["max_interval_seconds"]),
                backoff_factor=float(data["backoff_factor"]),
                expires_in_seconds=float(data["expires_in_seconds"]),
                correlation_id=data.get("correlation_id"),
                routing=ResultRouting.from_dict(data.get("routing")),
                started_at=data.get("started_at"),
                expires_at=data.get("expires_at"),
                polls=int(data.get("polls", 0)),
                sequence=int(data.get("sequence", 0)),
                last_error=data.get("last_error"),
                last_http_status=data.get("last_http_status"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidPayload(f"the monitor's input is incomplete: {error}") from None
        if not MONITOR_ID.match(str(state.monitor_id)):
            raise InvalidPayload("monitor_id: a monitor id")
        return state


def custom_status(step: MonitorStep, progress: int) -> dict[str, Any]:
    """What GET /api/jobs/{id} shows as step and progress."""
    return {"step": str(step), "progress": 100 if step in ENDINGS else progress}


def monitor_result(
    state: MonitorState, ending: MonitorStep, ended_at: datetime, reason: str | None = None
) -> dict[str, Any]:
    """The monitor's outcome: ids, counts and times only, never the status document."""
    result: dict[str, Any] = {
        "monitor_id": state.monitor_id,
        "status": str(ending),
        "polls": state.polls,
        "started_at": state.started_at,
        "ended_at": ended_at.isoformat(),
    }
    if state.last_http_status is not None:
        result["last_http_status"] = state.last_http_status
    if reason:
        result["reason"] = reason[:MAX_REASON]
    return result


@dataclass(frozen=True)
class PollRequest:
    """The poll activity's input: where to look and what to test, nothing else."""

    url: str
    condition: dict[str, Any]
    failure_condition: dict[str, Any] | None
    monitor_id: str
    poll: int
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "condition": self.condition,
            "failure_condition": self.failure_condition,
            "monitor_id": self.monitor_id,
            "poll": self.poll,
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PollRequest:
        if not isinstance(data, Mapping):
            raise InvalidPayload("the input must be a JSON object")
        url, monitor_id, poll = data.get("url"), data.get("monitor_id"), data.get("poll")
        correlation_id = data.get("correlation_id")
        if not isinstance(url, str) or not url:
            raise InvalidPayload("url: the status URL")
        if not isinstance(monitor_id, str) or not MONITOR_ID.match(monitor_id):
            raise InvalidPayload("monitor_id: a monitor id")
        if isinstance(poll, bool) or not isinstance(poll, int) or poll < 1:
            raise InvalidPayload("poll: the poll's number, 1 or more")
        if correlation_id is not None and (
            not isinstance(correlation_id, str) or len(correlation_id) > MAX_CORRELATION_ID
        ):
            raise InvalidPayload(f"correlation_id: text of at most {MAX_CORRELATION_ID} characters")
        try:
            condition = condition_to_dict(parse_condition(data.get("condition")))
            failure = data.get("failure_condition")
            if failure is not None:
                failure = condition_to_dict(parse_condition(failure, "failure_condition"))
        except InvalidCondition as invalid:
            raise InvalidPayload(str(invalid)) from None
        return cls(url, condition, failure, monitor_id, poll, correlation_id)
