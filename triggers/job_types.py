"""What a job type is to the job API: how to start its jobs, recognise their ids and cancel them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from domain.payload import Model
from triggers.start_once import Started


def job_ids(prefix: str, key: re.Pattern[str] | str) -> re.Pattern[str]:
    """The ids of a type's jobs: its instance-id prefix, then its key's pattern without anchors."""
    pattern = key.pattern if isinstance(key, re.Pattern) else key
    return re.compile(prefix + pattern.removeprefix("^").removesuffix("$"))


class JobSubjectNotFound(LookupError):
    """What the request names to work on does not exist (a thumbnail job's upload): a 404."""


@dataclass(frozen=True)
class StartRequest:
    """A start request as the job API hands it to a type: its body, already read with the type's
    request model (domain.payload.parse_request), and where it came from."""

    body: Any
    received_at: datetime
    correlation_id: str


# Starts the job once (triggers/start_once.py); a rule that needs settings or the clock raises
# InvalidPayload, a missing subject JobSubjectNotFound.
StartJob = Callable[[df.DurableOrchestrationClient, StartRequest], Awaitable[Started]]


@dataclass(frozen=True)
class JobType:
    """One kind of job. Its ids are orchestration instance ids that `ids` matches in full, so
    a type can tell its own jobs from any other instance in the task hub."""

    name: str
    # Written without Python-only syntax (no `\d`, no escaped `-`): the OpenAPI document
    # states it as JSON Schema, which reads it as ECMA-262.
    ids: re.Pattern[str]
    orchestrator: str
    # The start request's body; the job API reads it and the OpenAPI document describes it.
    request: type[Model]
    # A finished job's output, as GET /api/jobs/{id} shows it under `result`.
    result: type[Model]
    start: StartJob
    # The external event that asks a running job to stop (never a terminate: the job ends its
    # own way, an order undoing its steps); None for a type that cannot be cancelled.
    cancel_event: str | None = None
    # Steps (the custom status's `step`) from which a cancel is refused: an order that ships.
    not_cancellable_steps: frozenset[str] = frozenset()
    # Rules of the request no JSON Schema states (cross-field ones), for the OpenAPI document.
    rules: str = ""

    def owns(self, job_id: str) -> bool:
        return self.ids.fullmatch(job_id) is not None
