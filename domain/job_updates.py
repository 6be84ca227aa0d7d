"""A job's published updates, numbered so each applies in order, and where its result goes."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, SerializerFunctionWrapHandler, model_serializer

from domain.outbound import MAX_URL_LENGTH
from domain.payload import CorrelationId, Model, NullsWritten

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
JOB_TYPE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# Service Bus entity names: letters, digits, '.', '-', '_' (and '/' for nested paths, not used).
QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$")
MAX_RESULT_BYTES = 16 * 1024


class UpdateKind(StrEnum):
    """What an update says: a milestone on the way, or how the job ended."""

    MILESTONE = "milestone"
    COMPLETED = "completed"
    ENDED = "ended"  # finished, but not successfully: failed, rejected or cancelled

    @property
    def is_final(self) -> bool:
        return self is not UpdateKind.MILESTONE


class ResultRouting(Model):
    """Where a job's outcome goes besides its status endpoint, fixed when the job starts.

    `reply_queue` is a declared queue (never an arbitrary ReplyTo: the app may only send where
    infra granted it), `callback_url` a caller's webhook, validated by the starter.
    """

    reply_queue: Annotated[str, Field(pattern=QUEUE_NAME.pattern)] | None = None
    callback_url: Annotated[str, Field(max_length=MAX_URL_LENGTH)] | None = None

    @model_serializer(mode="plain")
    def _both(self) -> dict[str, str | None]:
        # Both members, null when unset, even inside a payload that leaves out null fields:
        # the form recorded histories hold (activity inputs are compared as text).
        return {"reply_queue": self.reply_queue, "callback_url": self.callback_url}


def reply_queue_for(reply_to: str | None, default: str, declared: frozenset[str]) -> str:
    """The queue a message-started job replies to: its ReplyTo when declared, else the default.

    A ReplyTo naming any other queue is ignored rather than trusted: senders must not be able
    to make the app write to an entity of their choice.
    """
    if reply_to and reply_to in declared:
        return reply_to
    return default


def _small(result: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(result).encode()) > MAX_RESULT_BYTES:
        raise ValueError(f"an object of at most {MAX_RESULT_BYTES} bytes as JSON")
    return result


class JobUpdate(Model):
    """One numbered update of one job, as published to the status record, topic and reply."""

    job_id: Annotated[str, Field(pattern=JOB_ID.pattern, description="The instance id.")]
    job_type: Annotated[str, Field(pattern=JOB_TYPE.pattern)]
    sequence: Annotated[int, Field(ge=1)]
    kind: UpdateKind
    step: str
    progress: Annotated[int, Field(ge=0, le=100)]
    status: str
    occurred_at: str  # ISO 8601, as the orchestrator's clock wrote it
    correlation_id: CorrelationId | None = None
    result: Annotated[dict[str, Any], AfterValidator(_small)] | None = None

    @model_serializer(mode="wrap")
    def _correlation_id_always(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # correlation_id is written even when null, `result` only when there is one: the
        # form every subscriber and recorded history has (activity inputs compared as text).
        data: dict[str, Any] = handler(self)
        result = data.pop("result", None)
        data["correlation_id"] = self.correlation_id
        return data if result is None else {**data, "result": result}

    @property
    def message_id(self) -> str:
        """Stable per update, so a retried publish is dropped by duplicate detection."""
        return f"{self.job_id}:{self.sequence}"

    @property
    def subject(self) -> str:
        return f"{self.job_type}.{self.kind}"


def supersedes(incoming: int, applied: int | None) -> bool:
    """Whether an update numbered `incoming` replaces the one numbered `applied` (None: none)."""
    return applied is None or incoming > applied


class PublishRequest(Model):
    """The input of the publishing activity: the update and where its outcome goes."""

    update: JobUpdate
    routing: ResultRouting = ResultRouting()

    @property
    def reply_queue(self) -> str | None:
        """Only a final update is a reply; milestones go to the topic and status record."""
        return self.routing.reply_queue if self.update.kind.is_final else None


class PublishOutcome(NullsWritten):
    """What the publishing activity did, for the orchestrator's record."""

    sequence: int
    status_applied: bool
    replied_to: str | None = None
