"""The thumbnail job (chaining, then fan-out/fan-in): validate the upload, one resize per size.

Validation comes first, so a bad upload ends the job Rejected with its reason before any
resize runs; then one `make_thumbnail` activity per configured size runs in parallel and the
job waits for all of them. A size that fails transiently is retried on a durable timer with
backoff, alone; a permanent failure ends the job Failed. Updates go through the JobReporter
(status record, topic) like every job's: "validated", then the outcome with each thumbnail's
metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.thumbnails import MAKE_THUMBNAIL, VALIDATE_UPLOAD
from domain.failures import FailureKind, failure_kind, failure_reason
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
from orchestrators.retry import call_activity_with_backoff

logger = logging.getLogger(__name__)

ORCHESTRATOR = "make_thumbnails"
VALIDATED_PROGRESS = 20

# Storage hiccups: about half a minute of attempts per step before the job ends Failed.
STEP_RETRY = RetryPolicy(max_attempts=4, first_delay=timedelta(seconds=2))

bp = df.Blueprint()


def _fan_out(
    context: df.DurableOrchestrationContext, job: ThumbnailJob
) -> Generator[Any, Any, tuple[ThumbnailInfo, ...]]:
    """One resize per size, all at once; the sizes that failed transiently are retried alone."""
    done: dict[int, ThumbnailInfo] = {}
    pending = list(job.sizes)
    attempt = 1
    while True:
        tasks = {
            size: context.call_activity(
                MAKE_THUMBNAIL, job.resize_input(context.instance_id, size).dump()
            )
            for size in pending
        }
        # task_all ends at the first failure; each task's own outcome is read below.
        with suppress(Exception):
            yield context.task_all(list(tasks.values()))
        failed: dict[int, Exception] = {}
        for size, task in tasks.items():
            try:  # waits for the ones still running, so every size's outcome is known
                done[size] = read(ThumbnailInfo, (yield task))
            except Exception as error:
                failed[size] = error
        if not failed:
            return tuple(done[size] for size in job.sizes)
        permanent = [e for e in failed.values() if failure_kind(e) is FailureKind.PERMANENT]
        if permanent or attempt >= STEP_RETRY.max_attempts:
            raise (permanent or list(failed.values()))[0]
        delay = STEP_RETRY.delay(attempt, f"{context.instance_id}:{MAKE_THUMBNAIL}")
        if not context.is_replaying:
            logger.warning(
                "%s for sizes %s failed (%s); retrying in %.1f s [instance %s]",
                MAKE_THUMBNAIL,
                sorted(failed),
                failure_reason(next(iter(failed.values()))),
                delay.total_seconds(),
                context.instance_id,
            )
        yield context.create_timer(context.current_utc_datetime + delay)
        pending = sorted(failed)
        attempt += 1


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
    thumbnails = yield from _fan_out(context, job)
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
    thumbnails: tuple[ThumbnailInfo, ...] = (),
) -> ThumbnailResult:
    return ThumbnailResult(
        blob=job.name,
        etag=job.etag,
        status=status,
        reason=reason,
        source=source,
        thumbnails=thumbnails,
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
