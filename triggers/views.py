"""What the HTTP API answers, as models: the bodies are built and documented from the same ones."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from domain.fulfilment import Step, WorkflowResult
from domain.orders import OrderId, OrderLine
from domain.payload import Model


class RuntimeStatus(StrEnum):
    """The orchestration's runtime status as Durable Functions reports it."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"
    SUSPENDED = "Suspended"


Percentage = Annotated[int, Field(ge=0, le=100)]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
# Components scripts/openapi.py writes from the job registry (every type's name, id pattern and
# result), referenced in the document in place of the plain types the code builds with.
JOB_ID = {"x-component": "JobId"}
JOB_TYPE = {"x-component": "JobType"}


class View(Model):
    """An answer body: optional members left unset are left out, required ones may be null."""

    model_config = ConfigDict(strict=False)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class ProblemError(View):
    detail: str = Field(examples=["lines[0].quantity: Input should be a valid integer"])
    pointer: str | None = Field(
        None,
        pattern="^#",
        description="A JSON pointer (RFC 6901), as a URI fragment, to the field it is about.",
        examples=["#/lines/0/quantity"],
    )


class Problem(View):
    """Problem details (RFC 9457): the body of every error answer, served as
    application/problem+json. `type` is a URN naming the kind of problem; `errors` (an extension
    member) lists one entry per invalid field of a request, naming the field, never echoing its
    value."""

    type: str = Field(
        json_schema_extra={"format": "uri-reference"},
        examples=["urn:problem-type:jobs:not-found"],
    )
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[ProblemError] | None = None


class WorkflowProgress(View):
    """The order workflow's custom status: where it is and a rough percentage."""

    step: Step
    progress: Percentage


class OrderAccepted(View):
    order_id: OrderId
    runtime_status: RuntimeStatus
    duplicate: bool = Field(
        description="True when the order was already running: nothing new was started."
    )
    status_url: Url


class OrderView(View):
    """An order's workflow as callers may see it: no input (it holds the order), no history."""

    order_id: OrderId
    runtime_status: RuntimeStatus | None
    custom_status: WorkflowProgress | None
    output: WorkflowResult | None
    error: str | None = Field(None, description="The first line of a failed orchestration's error.")
    created_time: Timestamp | None
    last_updated_time: Timestamp | None
    status_url: Url | None = Field(
        None, description="In the answer to a repeated POST /orders only."
    )


class OrderCommandAccepted(View):
    order_id: OrderId
    message: Literal["cancellation requested", "decision accepted"]


class ApprovalSummary(View):
    """What an approver sees before deciding: the order's amount and lines and why it waits;
    never the customer's name, email or address (the order holds only a reference)."""

    order_id: OrderId
    approver: str = Field(description="The approver the link was made for.")
    total_cents: int
    currency: str
    lines: tuple[OrderLine, ...]
    why: str = Field(description="Why the order needs an approval, in words.")
    threshold_cents: int = Field(description="The approval threshold the order ran with.")
    expires_at: Timestamp = Field(description="When the link, and the order's wait, end.")
    seconds_left: int
    awaiting_decision: bool = Field(
        description="False once the order no longer waits (decided, cancelled or ended)."
    )
    decision: Literal["approved", "rejected"] | None = Field(
        None, description="The decision already taken on this order, if any."
    )


class JobAccepted(View):
    id: str = Field(json_schema_extra=JOB_ID)
    type: str = Field(json_schema_extra=JOB_TYPE)
    runtime_status: RuntimeStatus
    duplicate: bool = Field(
        description="True when the job was already running: nothing new was started."
    )
    status_url: Url = Field(description="This app's GET /api/jobs/{id}: poll it.")
    cancel_url: Url | None = Field(
        None,
        description="This app's POST /api/jobs/{id}/cancel, for job types that can be cancelled.",
    )


class JobView(View):
    """What a caller may see of a job: never its input or history."""

    id: str = Field(json_schema_extra=JOB_ID)
    type: str = Field(json_schema_extra=JOB_TYPE)
    runtime_status: RuntimeStatus
    step: str | None = Field(
        description=(
            "Where the job is (for orders an OrderStep, for monitors a MonitorStep); null "
            "before its first step."
        )
    )
    progress: Percentage | None
    result: dict[str, Any] | None = Field(
        None,
        json_schema_extra={"x-component": "JobResult"},
        description="The job's result once it has one.",
    )
    error: str | None = Field(None, description="The first line of a failed job's error.")
    created_time: Timestamp | None
    last_updated_time: Timestamp | None
    status_url: Url
    cancel_url: Url | None = Field(
        None, description="While the job is active and its type can be cancelled."
    )


class JobCancelAccepted(View):
    id: str = Field(json_schema_extra=JOB_ID)
    type: str = Field(json_schema_extra=JOB_TYPE)
    message: Literal["cancellation requested"]
    status_url: Url
