"""A job's published updates: numbered milestones and its outcome, and where results are sent.

Every update a job publishes carries a sequence number the orchestrator assigns (1, 2, 3, ...),
so a status record or a subscriber can apply updates in order whatever order they arrive in:
an update applies only when its number is higher than the last one applied. Updates hold ids,
steps and outcomes only, never personal data (that stays behind the claim check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.order_payloads import InvalidPayload

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
JOB_TYPE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# Service Bus entity names: letters, digits, '.', '-', '_' (and '/' for nested paths, not used).
QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$")
MAX_CORRELATION_ID = 128
MAX_RESULT_BYTES = 16 * 1024


class UpdateKind(StrEnum):
    """What an update says: a milestone on the way, or how the job ended."""

    MILESTONE = "milestone"
    COMPLETED = "completed"
    ENDED = "ended"  # finished, but not successfully: failed, rejected or cancelled

    @property
    def is_final(self) -> bool:
        return self is not UpdateKind.MILESTONE


@dataclass(frozen=True)
class ResultRouting:
    """Where a job's outcome goes besides its status endpoint, fixed when the job starts.

    `reply_queue` is a declared queue (never an arbitrary ReplyTo: the app may only send where
    infra granted it), `callback_url` a caller's webhook, validated by the starter.
    """

    reply_queue: str | None = None
    callback_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reply_queue": self.reply_queue, "callback_url": self.callback_url}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ResultRouting:
        data = data or {}
        return cls(data.get("reply_queue"), data.get("callback_url"))


def reply_queue_for(reply_to: str | None, default: str, declared: frozenset[str]) -> str:
    """The queue a message-started job replies to: its ReplyTo when declared, else the default.

    A ReplyTo naming any other queue is ignored rather than trusted: senders must not be able
    to make the app write to an entity of their choice.
    """
    if reply_to and reply_to in declared:
        return reply_to
    return default


@dataclass(frozen=True)
class JobUpdate:
    """One numbered update of one job, as published to the status record, topic and reply."""

    job_id: str
    job_type: str
    sequence: int
    kind: UpdateKind
    step: str
    progress: int
    status: str
    occurred_at: str
    correlation_id: str | None = None
    result: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        problems = []
        if not JOB_ID.match(self.job_id):
            problems.append("job_id: an instance id")
        if not JOB_TYPE.match(self.job_type):
            problems.append("job_type: lower-case letters, digits and '-'")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            problems.append("sequence: a whole number")
        elif self.sequence < 1:
            problems.append("sequence: 1 or more")
        if isinstance(self.progress, bool) or not isinstance(self.progress, int):
            problems.append("progress: a whole percentage")
        elif not 0 <= self.progress <= 100:
            problems.append("progress: 0 to 100")
        if self.correlation_id is not None and (
            not isinstance(self.correlation_id, str)
            or len(self.correlation_id) > MAX_CORRELATION_ID
        ):
            problems.append(f"correlation_id: text of at most {MAX_CORRELATION_ID} characters")
        if self.result is not None and (
            not isinstance(self.result, dict)
            or len(json.dumps(self.result).encode()) > MAX_RESULT_BYTES
        ):
            problems.append(f"result: an object of at most {MAX_RESULT_BYTES} bytes as JSON")
        if problems:
            raise InvalidPayload("; ".join(problems))

    @property
    def message_id(self) -> str:
        """Stable per update, so a retried publish is dropped by duplicate detection."""
        return f"{self.job_id}:{self.sequence}"

    @property
    def subject(self) -> str:
        return f"{self.job_type}.{self.kind}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "sequence": self.sequence,
            "kind": str(self.kind),
            "step": self.step,
            "progress": self.progress,
            "status": self.status,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
        }
        if self.result is not None:
            data["result"] = self.result
        return data

    @classmethod
    def from_dict(cls, data: Any) -> JobUpdate:
        if not isinstance(data, Mapping):
            raise InvalidPayload("a job update must be a JSON object")
        try:
            kind = UpdateKind(data.get("kind"))
        except ValueError as error:
            raise InvalidPayload("kind: milestone, completed or ended") from error
        for name in ("job_id", "job_type", "step", "status", "occurred_at"):
            if not isinstance(data.get(name), str):
                raise InvalidPayload(f"{name}: text")
        return cls(
            job_id=data["job_id"],
            job_type=data["job_type"],
            sequence=data.get("sequence"),  # type: ignore[arg-type]  # checked in __post_init__
            kind=kind,
            step=data["step"],
            progress=data.get("progress"),  # type: ignore[arg-type]
            status=data["status"],
            occurred_at=data["occurred_at"],
            correlation_id=data.get("correlation_id"),
            result=data.get("result"),
        )


def supersedes(incoming: int, applied: int | None) -> bool:
    """Whether an update numbered `incoming` replaces the one numbered `applied` (None: none)."""
    return applied is None or incoming > applied


@dataclass(frozen=True)
class PublishRequest:
    """The input of the publishing activity: the update and where its outcome goes."""

    update: JobUpdate
    routing: ResultRouting

    @property
    def reply_queue(self) -> str | None:
        """Only a final update is a reply; milestones go to the topic and status record."""
        return self.routing.reply_queue if self.update.kind.is_final else None

    def to_dict(self) -> dict[str, Any]:
        return {"update": self.update.to_dict(), "routing": self.routing.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> PublishRequest:
        if not isinstance(data, Mapping):
            raise InvalidPayload("the input must be a JSON object")
        routing = data.get("routing")
        if routing is not None and not isinstance(routing, Mapping):
            raise InvalidPayload("routing: an object")
        parsed = ResultRouting.from_dict(routing)
        if parsed.reply_queue is not None and (
            not isinstance(parsed.reply_queue, str) or not QUEUE_NAME.match(parsed.reply_queue)
        ):
            raise InvalidPayload("routing.reply_queue: a queue name")
        return cls(JobUpdate.from_dict(data.get("update")), parsed)
