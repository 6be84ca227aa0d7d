"""The thumbnail job's payloads and outcomes: what crosses each activity and orchestration boundary.

Plain JSON objects built and read here, so the orchestrator, the activities and the tests agree
on one shape. A rejected upload is an answer, not an error: the validation step returns it and
the job ends Rejected with the reason, without retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.images import (
    MAX_NAME_LENGTH,
    MAX_THUMBNAIL_SIZE,
    MIN_THUMBNAIL_SIZE,
    ImageFormat,
    ImageLimits,
)
from domain.order_payloads import InvalidPayload

JOB_TYPE = "thumbnail"
MAX_SIZES = 8


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


def _text(data: Mapping[str, Any], name: str, max_length: int = MAX_NAME_LENGTH) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidPayload(f"{name}: text of 1 to {max_length} characters")
    return value


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload("size: a whole number of pixels")
    if not MIN_THUMBNAIL_SIZE <= value <= MAX_THUMBNAIL_SIZE:
        raise InvalidPayload(f"size: {MIN_THUMBNAIL_SIZE} to {MAX_THUMBNAIL_SIZE}")
    return value


def _limits(data: Mapping[str, Any]) -> ImageLimits:
    try:
        return ImageLimits.from_dict(data.get("limits"))
    except ValueError as error:
        raise InvalidPayload(f"limits: {error}") from error


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidPayload("the input must be a JSON object")
    return data


@dataclass(frozen=True)
class ThumbnailJob:
    """The orchestration's input: one version of one upload, and what to make of it.

    Sizes and limits are resolved by the starter from app settings, because an orchestrator
    must not read the environment (a changed setting would change a replay).
    """

    name: str
    etag: str
    sizes: tuple[int, ...]
    limits: ImageLimits = field(default_factory=ImageLimits)
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        if not self.sizes or len(self.sizes) > MAX_SIZES:
            raise InvalidPayload(f"sizes: 1 to {MAX_SIZES} sizes")
        for size in self.sizes:
            _size(size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "etag": self.etag,
            "sizes": list(self.sizes),
            "limits": self.limits.to_dict(),
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ThumbnailJob:
        data = _object(data)
        sizes = data.get("sizes")
        if not isinstance(sizes, list):
            raise InvalidPayload("sizes: a list of whole numbers")
        correlation_id = data.get("correlation_id")
        if correlation_id is not None and not isinstance(correlation_id, str):
            raise InvalidPayload("correlation_id: text")
        return cls(
            name=_text(data, "name"),
            etag=_text(data, "etag", 200),
            sizes=tuple(_size(s) for s in sizes),
            limits=_limits(data),
            correlation_id=correlation_id,
        )

    def validate_input(self, job_id: str) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "name": self.name,
            "etag": self.etag,
            "limits": self.limits.to_dict(),
            "smallest_size": min(self.sizes),
            "correlation_id": self.correlation_id,
        }

    def resize_input(self, job_id: str, size: int) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "name": self.name,
            "etag": self.etag,
            "limits": self.limits.to_dict(),
            "size": size,
            "correlation_id": self.correlation_id,
        }


@dataclass(frozen=True)
class ValidateInput:
    """The validation activity's input."""

    name: str
    etag: str
    limits: ImageLimits
    smallest_size: int
    correlation_id: str | None = None
    job_id: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> ValidateInput:
        data = _object(data)
        return cls(
            _text(data, "name"),
            _text(data, "etag", 200),
            _limits(data),
            _size(data.get("smallest_size")),
            data.get("correlation_id"),
            data.get("job_id"),
        )


@dataclass(frozen=True)
class ResizeInput:
    """One fanned-out resize: which upload version, which size."""

    name: str
    etag: str
    limits: ImageLimits
    size: int
    correlation_id: str | None = None
    job_id: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> ResizeInput:
        data = _object(data)
        return cls(
            _text(data, "name"),
            _text(data, "etag", 200),
            _limits(data),
            _size(data.get("size")),
            data.get("correlation_id"),
            data.get("job_id"),
        )


@dataclass(frozen=True)
class SourceInfo:
    """What validation learned about the upload (or why it refused it)."""

    outcome: Outcome
    reason: str | None = None
    format: ImageFormat | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "reason": self.reason,
            "format": None if self.format is None else str(self.format),
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SourceInfo:
        data = _object(data)
        fmt = data.get("format")
        return cls(
            Outcome(data.get("outcome")),
            data.get("reason"),
            None if fmt is None else ImageFormat(fmt),
            data.get("width"),
            data.get("height"),
            data.get("bytes"),
        )


@dataclass(frozen=True)
class ThumbnailInfo:
    """One thumbnail as written (or found already written): the job's metadata for it."""

    outcome: Outcome
    size: int
    blob: str | None = None
    width: int | None = None
    height: int | None = None
    content_type: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "size": self.size,
            "blob": self.blob,
            "width": self.width,
            "height": self.height,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ThumbnailInfo:
        data = _object(data)
        return cls(
            Outcome(data.get("outcome")),
            _size(data.get("size")),
            data.get("blob"),
            data.get("width"),
            data.get("height"),
            data.get("content_type"),
            data.get("bytes"),
            data.get("sha256"),
            data.get("reason"),
        )


@dataclass(frozen=True)
class JobResult:
    """The orchestration's output and the final update's result: ids, outcome, metadata only."""

    name: str
    etag: str
    status: Outcome
    reason: str | None = None
    source: SourceInfo | None = None
    thumbnails: tuple[ThumbnailInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "blob": self.name,
            "etag": self.etag,
            "status": str(self.status),
            "reason": self.reason,
            "source": None if self.source is None else self.source.to_dict(),
            "thumbnails": [t.to_dict() for t in self.thumbnails],
        }

    @classmethod
    def from_dict(cls, data: Any) -> JobResult:
        data = _object(data)
        source = data.get("source")
        return cls(
            _text(data, "blob"),
            _text(data, "etag", 200),
            Outcome(data.get("status")),
            data.get("reason"),
            None if source is None else SourceInfo.from_dict(source),
            tuple(ThumbnailInfo.from_dict(t) for t in data.get("thumbnails") or []),
        )


FINAL_STEP = {
    Outcome.COMPLETED: Step.COMPLETED,
    Outcome.REJECTED: Step.REJECTED,
    Outcome.SUPERSEDED: Step.SUPERSEDED,
    Outcome.FAILED: Step.FAILED,
}


def custom_status(step: Step, progress: int) -> dict[str, Any]:
    """What the status endpoint shows while the job runs."""
    return {"job_type": JOB_TYPE, "step": str(step), "progress": progress}
