"""The thumbnail job's payloads and outcomes: what crosses each activity and orchestrator edge."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from domain.images import (
    MAX_THUMBNAIL_SIZE,
    MIN_THUMBNAIL_SIZE,
    ImageFormat,
    ImageLimits,
    UploadName,
)
from domain.payload import WHOLE, Model, NullsWritten, WholeNumber

JOB_TYPE = "thumbnail"
MAX_SIZES = 8
MAX_ETAG = 200

# Any name storage gave the trigger: validation rejects one too long for its thumbnails' names,
# with the reason, rather than the starter refusing to start the job.
BlobName = Annotated[str, Field(min_length=1)]
ETag = Annotated[str, Field(min_length=1, max_length=MAX_ETAG)]
Size = Annotated[
    int,
    Field(
        ge=MIN_THUMBNAIL_SIZE,
        le=MAX_THUMBNAIL_SIZE,
        description="The thumbnail's longer side in pixels.",
    ),
    WHOLE,
]


class Outcome(StrEnum):
    """How a job, or one of its steps, ended."""

    VALID = "valid"  # validation only: the upload may be made into thumbnails
    WRITTEN = "written"  # a thumbnail was written
    UNCHANGED = "unchanged"  # the same thumbnail of the same version was already there
    REJECTED = "rejected"  # the upload can never be made into thumbnails
    SUPERSEDED = "superseded"  # a newer version of the upload exists, or it was deleted
    COMPLETED = "completed"  # the job: every thumbnail is there
    FAILED = "failed"  # the job: a step failed after its retries


class Step(StrEnum):
    """The job's step, as its custom status and numbered updates show it."""

    VALIDATING = "validating"
    RESIZING = "resizing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class ThumbnailRequest(Model):
    """The body of POST /api/jobs/thumbnail: which upload to make thumbnails of (its current
    version)."""

    blob: UploadName


class UploadStep(NullsWritten):
    """What every thumbnail activity gets: one version of one upload, within the limits."""

    job_id: str | None = None
    name: BlobName
    etag: ETag
    limits: ImageLimits


class ValidateInput(UploadStep):
    """The validation activity's input."""

    smallest_size: Size
    correlation_id: str | None = None


class ResizeInput(UploadStep):
    """One fanned-out resize: which size."""

    size: Size
    correlation_id: str | None = None


class ThumbnailJob(NullsWritten):
    """The orchestration's input: one version of one upload, and what to make of it.

    Sizes and limits are resolved by the starter from app settings, because an orchestrator
    must not read the environment (a changed setting would change a replay).
    """

    name: BlobName
    etag: ETag
    sizes: Annotated[tuple[Size, ...], Field(min_length=1, max_length=MAX_SIZES)]
    limits: ImageLimits = ImageLimits()
    correlation_id: str | None = None

    def validate_input(self, job_id: str) -> ValidateInput:
        return ValidateInput(job_id=job_id, smallest_size=min(self.sizes), **self._upload())

    def resize_input(self, job_id: str, size: int) -> ResizeInput:
        return ResizeInput(job_id=job_id, size=size, **self._upload())

    def _upload(self) -> dict[str, Any]:
        return self.model_dump(include={"name", "etag", "limits", "correlation_id"})


class SourceInfo(NullsWritten):
    """What validation learned about the upload (or why it refused it)."""

    outcome: Outcome
    reason: str | None = None
    format: ImageFormat | None = None
    width: WholeNumber | None = None
    height: WholeNumber | None = None
    bytes: WholeNumber | None = None


class ThumbnailInfo(NullsWritten):
    """One thumbnail as written (or found already written): the job's metadata for it."""

    outcome: Outcome
    size: Size
    blob: str | None = Field(None, description="`<size>/<name>` in the thumbnails container.")
    width: WholeNumber | None = None
    height: WholeNumber | None = None
    content_type: str | None = None
    bytes: WholeNumber | None = None
    sha256: str | None = None
    reason: str | None = None


class ThumbnailResult(NullsWritten):
    """The orchestration's output and the final update's result: ids, outcome, metadata only."""

    blob: BlobName = Field(description="The upload's name.")
    etag: ETag = Field(description="The upload version the job made thumbnails of.")
    status: Outcome
    reason: str | None = None
    source: SourceInfo | None = None
    thumbnails: tuple[ThumbnailInfo, ...] = ()


FINAL_STEP = {
    Outcome.COMPLETED: Step.COMPLETED,
    Outcome.REJECTED: Step.REJECTED,
    Outcome.SUPERSEDED: Step.SUPERSEDED,
    Outcome.FAILED: Step.FAILED,
}


def custom_status(step: Step, progress: int) -> dict[str, Any]:
    """What the status endpoint shows while the job runs."""
    return {"job_type": JOB_TYPE, "step": str(step), "progress": progress}
