"""How the job API answers: URLs, refusals, bodies; its /api/orders alias subclasses JobAnswers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from triggers.job_types import JobType
from triggers.problem_details import REFUSALS, problem, problem_response
from triggers.start_once import Started, runtime_status_of, step_of
from triggers.views import JobAccepted, JobCancelAccepted, JobView

PROBLEM = "urn:problem-type:jobs:"
UNKNOWN_TYPE = PROBLEM + "unknown-type"
NOT_FOUND = PROBLEM + "not-found"

# A job in these states shows its cancel URL (when its type can be cancelled).
ACTIVE = frozenset({"Pending", "Running", "Suspended"})
# A job in these states has nothing left to do: it shows progress 100, whatever its type keeps
# in its custom status (the nightly report counts chunks and orders, not a percentage).
FINISHED = frozenset({"Completed", "Failed", "Terminated"})
MAX_ERROR = 500
NO_STORE = {"Cache-Control": "no-store"}


class JobUrls:
    """The app's own job URLs on the host the caller used, without the caller's query string
    (which may hold its function key)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def status(self, job_id: str) -> str:
        return f"{self.base}/{quote(job_id, safe='')}"

    def cancel(self, job_id: str) -> str:
        return f"{self.status(job_id)}/cancel"


def url_above(req: func.HttpRequest, segments: int, then: str = "") -> str:
    """The request's URL `segments` path segments up, then `then`, without its query string."""
    scheme, netloc, path, _, _ = urlsplit(req.url)
    path = path.rstrip("/").rsplit("/", segments)[0] if segments else path.rstrip("/")
    return urlunsplit((scheme, netloc, path + then, "", ""))


class JobAnswers:
    """How the job API words its answers: problems, bodies and URLs. An alias overrides them."""

    span = "start {type} job"
    refusals = REFUSALS["jobs"]

    def __init__(self, base: str) -> None:
        self.urls = JobUrls(base)

    def refuse(self, name: str, errors: list[str] | None = None) -> func.HttpResponse:
        """The refusal `name` of this URL set, with the request's problems if any."""
        return problem_response(problem(*self.refusals[name], errors))

    def location(self, job_id: str) -> str:
        return self.urls.status(job_id)

    def accepted(self, job_type: JobType, started: Started) -> dict[str, Any]:
        job_id = started.instance_id
        cancel = {} if job_type.cancel_event is None else {"cancel_url": self.urls.cancel(job_id)}
        return JobAccepted(
            id=job_id,
            type=job_type.name,
            runtime_status=started.runtime_status,
            duplicate=not started.started,
            status_url=self.urls.status(job_id),
            **cancel,
        ).dump()

    def view(self, job_type: JobType, status: DurableOrchestrationStatus) -> dict[str, Any]:
        return job_view(job_type, status, self.urls)

    def finished(self, job_type: JobType, status: DurableOrchestrationStatus) -> dict[str, Any]:
        """A repeated start of a finished job: its status."""
        return self.view(job_type, status)

    def cancelled(self, job_type: JobType, job_id: str) -> func.HttpResponse:
        body = JobCancelAccepted(
            id=job_id,
            type=job_type.name,
            message="cancellation requested",
            status_url=self.urls.status(job_id),
        )
        return json_response(202, body.dump(), {"Location": self.location(job_id), **NO_STORE})


def job_view(
    job_type: JobType, status: DurableOrchestrationStatus, urls: JobUrls
) -> dict[str, Any]:
    """What callers may see of a job: no input (it may reference personal data), no history."""
    runtime = runtime_status_of(status)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    progress = 100 if runtime in FINISHED else custom.get("progress")
    job_id = status.instance_id or ""
    extra: dict[str, Any] = {}
    output = status.output
    if isinstance(output, dict):
        extra["result"] = output
    elif isinstance(output, str) and runtime in ("Failed", "Terminated") and output.strip():
        # A failed orchestration's output is its error text and stack; the first line is enough.
        extra["error"] = output.strip().splitlines()[0].strip()[:MAX_ERROR]
    if runtime in ACTIVE and job_type.cancel_event is not None:
        extra["cancel_url"] = urls.cancel(job_id)
    view = JobView(
        id=job_id,
        type=job_type.name,
        runtime_status=runtime,
        step=step_of(status),
        progress=progress if _is_percentage(progress) else None,
        created_time=iso(status.created_time),
        last_updated_time=iso(status.last_updated_time),
        status_url=urls.status(job_id),
        **extra,
    )
    return view.dump()


def _is_percentage(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/json", headers=headers
    )
