"""The thumbnail job's activities: validate an upload, make one thumbnail of it."""

from __future__ import annotations

import logging

from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import root
from adapters.images import render
from adapters.thumbnail_store import SourceChanged, ThumbnailStore
from domain.images import ImageRejected, inspect, thumbnail_name
from domain.thumbnails import (
    JOB_TYPE,
    Outcome,
    ResizeInput,
    SourceInfo,
    ThumbnailInfo,
    ValidateInput,
)

logger = logging.getLogger(__name__)


def _ids(step: ValidateInput | ResizeInput) -> JobIds:
    # Ids and sizes only, never the upload's name: users choose names, and they may be personal.
    size = step.size if isinstance(step, ResizeInput) else "-"
    label = f"job {step.job_id or '?'} size {size}"
    return JobIds(JOB_TYPE, step.job_id, step.correlation_id, label, {"job.id": step.job_id or ""})


bp = ActivityBlueprint(adapters=root.thumbnails, ids=_ids)

VALIDATE_UPLOAD = "validate_upload"


@bp.activity(VALIDATE_UPLOAD, ValidateInput)
def validate_upload(step: ValidateInput, store: ThumbnailStore) -> SourceInfo:
    """Check the upload without trusting its name: bytes, magic, header dimensions, then one
    decode at the smallest size's shrink-on-load scale, which finds truncated or corrupt data.
    A bad upload is an answer, not an error (rejected, or superseded when rewritten meanwhile):
    the job ends with its reason and nothing retries it."""
    try:
        data = store.read_source(step.name, step.etag, step.limits)
        header = inspect(step.name, data, step.limits)
        render(data, header, step.smallest_size)
    except SourceChanged as changed:
        logger.info("Job %s is superseded: %s", step.job_id or "?", changed)
        return SourceInfo(outcome=Outcome.SUPERSEDED, reason=str(changed))
    except ImageRejected as rejected:
        logger.warning("Job %s rejected its upload: %s", step.job_id or "?", rejected.reason)
        return SourceInfo(outcome=Outcome.REJECTED, reason=rejected.reason)
    return SourceInfo(
        outcome=Outcome.VALID,
        format=header.format,
        width=header.width,
        height=header.height,
        bytes=len(data),
    )


MAKE_THUMBNAIL = "make_thumbnail"


@bp.activity(MAKE_THUMBNAIL, ResizeInput)
def make_thumbnail(step: ResizeInput, store: ThumbnailStore) -> ThumbnailInfo:
    """Write `thumbnails/<size>/<name>` for this version; the same bytes every run, written once."""
    blob = thumbnail_name(step.size, step.name)
    try:
        data = store.read_source(step.name, step.etag, step.limits)
        # Checked again, not trusted from validation: this activity may run on its own.
        header = inspect(step.name, data, step.limits)
        rendered = render(data, header, step.size)
        written = store.write_thumbnail(blob, rendered, step.name, step.etag)
    except SourceChanged as changed:
        return ThumbnailInfo(
            outcome=Outcome.SUPERSEDED, size=step.size, blob=blob, reason=str(changed)
        )
    except ImageRejected as rejected:
        return ThumbnailInfo(
            outcome=Outcome.REJECTED, size=step.size, blob=blob, reason=rejected.reason
        )
    return ThumbnailInfo(
        outcome=Outcome.WRITTEN if written.written else Outcome.UNCHANGED,
        size=step.size,
        blob=blob,
        width=rendered.width,
        height=rendered.height,
        content_type=rendered.content_type,
        bytes=len(rendered.data),
        sha256=rendered.sha256,
    )
