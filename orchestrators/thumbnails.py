"""The thumbnail job (chaining, then fan-out/fan-in): validate the upload, one resize per size."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.thumbnails import MAKE_THUMBNAIL, VALIDATE_UPLOAD
from domain.failures import failure_reason
from domain.job_updates import ResultRouting
from domain.payload import read
from domain.retry import RetryPolicy
from domain.thumbnails import (
    FINAL_STEP,
    JOB_TYPE,
    Outcome,
    SourceInfo,
    Step,
    ThumbnailInfo,
    ThumbnailJob,
    ThumbnailResult,
    custom_status,
)
from orchestrators.job_results import JobReporter
from orchestrators.retry import call_activities_with_backoff, call_activity_with_backoff

ORCHESTRATOR = "make_thumbnails"
VALIDATED_PROGRESS = 20

# Storage hiccups: about half a minute of attempts per step before the job ends Failed.
STEP_RETRY = RetryPolicy(max_attempts=4, first_delay=timedelta(seconds=2))

bp = df.Blueprint()


def _run(
    context: df.DurableOrchestrationContext, job: ThumbnailJob, reporter: JobReporter
) -> Generator[Any, Any, ThumbnailResult]:
    context.set_custom_status(custom_status(Step.VALIDATING, 0))
    checked = yield from call_activity_with_backoff(
        context, VALIDATE_UPLOAD, job.validate_input(context.instance_id).dump(), STEP_RETRY
    )
    source = read(SourceInfo, checked)
    if source.outcome is not Outcome.VALID:  # rejected, or superseded by a newer version
        return _result(job, source.outcome, source.reason, source)
    yield from reporter.milestone("validated", VALIDATED_PROGRESS, "Validated")

    context.set_custom_status(custom_status(Step.RESIZING, VALIDATED_PROGRESS))
    resizes = {size: job.resize_input(context.instance_id, size).dump() for size in job.sizes}
    made = yield from call_activities_with_backoff(context, MAKE_THUMBNAIL, resizes, STEP_RETRY)
    thumbnails = tuple(read(ThumbnailInfo, info) for info in made.values())
    for thumbnail in thumbnails:
        if thumbnail.outcome in (Outcome.REJECTED, Outcome.SUPERSEDED):
            reason = f"size {thumbnail.size}: {thumbnail.reason}"
            return _result(job, thumbnail.outcome, reason, source, thumbnails)
    return _result(job, Outcome.COMPLETED, None, source, thumbnails)


def _result(
    job: ThumbnailJob,
    status: Outcome,
    reason: str | None,
    source: SourceInfo | None = None,
    made: tuple[ThumbnailInfo, ...] = (),
) -> ThumbnailResult:
    return ThumbnailResult(
        blob=job.name, etag=job.etag, status=status, reason=reason, source=source, thumbnails=made
    )


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def make_thumbnails(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Input: ThumbnailJob.dump(); output: ThumbnailResult.dump() (names, sizes, outcome)."""
    job = read(ThumbnailJob, context.get_input())
    # Blob-started jobs have nobody to reply to: the status record and the topic carry results.
    reporter = JobReporter(context, JOB_TYPE, job.correlation_id, ResultRouting())
    try:
        result = yield from _run(context, job, reporter)
    except Exception as error:  # a step failed permanently or ran out of retries
        result = _result(job, Outcome.FAILED, failure_reason(error))
    step = FINAL_STEP[result.status]
    context.set_custom_status(custom_status(step, 100))
    yield from reporter.finish(
        str(step),
        str(result.status),
        result.dump(),
        succeeded=result.status is Outcome.COMPLETED,
    )
    return result.dump()
