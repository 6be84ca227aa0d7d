"""The thumbnail job's activities as plain functions: validate an upload, make one thumbnail.

Both read exactly the upload version the job was started for. A bad upload is an answer, not
an error: they return outcome "rejected" with the reason (and "superseded" when the upload was
rewritten or deleted meanwhile), so the job ends at once with that reason and nothing retries
it. Storage trouble is raised as a TransientFailure and retried by the orchestrator. Log lines
carry the job's id and sizes, never the upload's name (users choose names, and they may be
personal) or its content. activities/thumbnails.py registers these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from adapters.errors import storage_errors
from adapters.images import render
from adapters.telemetry import job_ids
from adapters.thumbnail_store import SourceChanged, ThumbnailStore
from domain.failures import JobFailure, PermanentFailure
from domain.images import ImageRejected, inspect, thumbnail_name
from domain.payload import InvalidPayload, read
from domain.thumbnails import (
    JOB_TYPE,
    Outcome,
    ResizeInput,
    SourceInfo,
    ThumbnailInfo,
    ValidateInput,
)

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@contextmanager
def _step(activity: str, payload: Any) -> Iterator[None]:
    """Log start and end with ids only; refuse bad input permanently; label storage errors."""
    ids = payload if isinstance(payload, dict) else {}
    correlation_id = ids.get("correlation_id")
    size = ids.get("size", "-")
    where = f"job {ids.get('job_id') or '?'} size {size} [correlation {correlation_id or '-'}]"
    started = time.perf_counter()
    job_id = str(ids.get("job_id") or "")
    # The job id is the instance id (domain.images.thumbnail_instance_id).
    attributes = {"job.id": job_id, **job_ids(JOB_TYPE, job_id, str(correlation_id or ""))}
    try:
        with (
            tracer.start_as_current_span(activity, attributes=attributes),
            storage_errors(activity),
        ):
            yield
    except InvalidPayload as error:
        logger.error("%s refused its input for %s: %s", activity, where, error)
        raise PermanentFailure(f"invalid {activity} input: {error}") from error
    except JobFailure as error:
        logger.warning("%s failed for %s: %s", activity, where, error)
        raise
    logger.info("%s done for %s in %.0f ms", activity, where, (time.perf_counter() - started) * 1e3)


def validate_upload(payload: Any, store: ThumbnailStore) -> dict[str, Any]:
    """Check the upload without trusting its name: bytes, magic, header dimensions, then one
    decode at the smallest size's shrink-on-load scale, which finds truncated or corrupt data."""
    with _step("validate_upload", payload):
        step = read(ValidateInput, payload)
        try:
            data = store.read_source(step.name, step.etag, step.limits)
            header = inspect(step.name, data, step.limits)
            render(data, header, step.smallest_size)
        except SourceChanged as changed:
            logger.info("Job %s is superseded: %s", step.job_id or "?", changed)
            return SourceInfo(outcome=Outcome.SUPERSEDED, reason=str(changed)).dump()
        except ImageRejected as rejected:
            logger.warning("Job %s rejected its upload: %s", step.job_id or "?", rejected.reason)
            return SourceInfo(outcome=Outcome.REJECTED, reason=rejected.reason).dump()
        info = SourceInfo(
            outcome=Outcome.VALID,
            format=header.format,
            width=header.width,
            height=header.height,
            bytes=len(data),
        )
        return info.dump()


def make_thumbnail(payload: Any, store: ThumbnailStore) -> dict[str, Any]:
    """Write `thumbnails/<size>/<name>` for this version; the same bytes every run, written once."""
    with _step("make_thumbnail", payload):
        step = read(ResizeInput, payload)
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
            ).dump()
        except ImageRejected as rejected:
            return ThumbnailInfo(
                outcome=Outcome.REJECTED, size=step.size, blob=blob, reason=rejected.reason
            ).dump()
        return ThumbnailInfo(
            outcome=Outcome.WRITTEN if written.written else Outcome.UNCHANGED,
            size=step.size,
            blob=blob,
            width=rendered.width,
            height=rendered.height,
            content_type=rendered.content_type,
            bytes=len(rendered.data),
            sha256=rendered.sha256,
        ).dump()
