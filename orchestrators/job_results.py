"""Returning results: a job's numbered updates, its final reply and webhook, and its log lines."""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.job_results import PUBLISH_JOB_UPDATE
from activities.webhooks import DELIVER_WEBHOOK
from domain.failures import failure_reason
from domain.job_updates import JobUpdate, PublishRequest, ResultRouting, UpdateKind
from domain.payload import Model
from domain.retry import RetryPolicy
from domain.webhooks import WebhookRequest
from orchestrators.retry import call_activity_with_backoff

logger = logging.getLogger(__name__)

PUBLISH_RETRY = RetryPolicy(max_attempts=6, first_delay=timedelta(seconds=2))
# A caller's endpoint may be down for a while: about an hour of attempts before giving up.
WEBHOOK_RETRY = RetryPolicy(
    max_attempts=10, first_delay=timedelta(seconds=5), max_delay=timedelta(minutes=15)
)


class JobReporter:
    """Publishes one job's updates, numbered here (replays give the same numbers) so receivers
    apply them in order; use every generator method with `yield from`.

    A job that continues as new (a monitor) passes the `sequence` and `started_at` it carries,
    and `log_start=False` after its first run.
    """

    def __init__(
        self,
        context: df.DurableOrchestrationContext,
        job_type: str,
        correlation_id: str | None,
        routing: ResultRouting,
        enqueued_at: str | None = None,
        *,
        sequence: int = 0,
        started_at: datetime | None = None,
        log_start: bool = True,
    ) -> None:
        self.context = context
        self.job_type = job_type
        self.correlation_id = correlation_id
        self.routing = routing
        # When the request arrived (a message's enqueued time): enqueue-to-completion latency.
        self.enqueued_at = enqueued_at
        self.sequence = sequence
        # The first episode's time during every replay, so the duration is deterministic.
        self.started_at = started_at or context.current_utc_datetime
        if log_start:
            self._log(logging.INFO, "started", None)

    def milestone(self, step: str, progress: int, status: str) -> Generator[Any, Any, None]:
        yield from self._publish(UpdateKind.MILESTONE, step, progress, status, None)

    def finish(
        self, step: str, status: str, result: dict[str, Any], *, succeeded: bool
    ) -> Generator[Any, Any, None]:
        """The final update: status record, topic, reply; then the webhook; then the log line."""
        kind = UpdateKind.COMPLETED if succeeded else UpdateKind.ENDED
        update = yield from self._publish(kind, step, 100, status, result)
        callback_url = self.routing.callback_url
        if callback_url is not None:
            webhook = WebhookRequest(
                url=callback_url,
                event=update.dump(),
                delivery_id=update.message_id,
                correlation_id=self.correlation_id,
            )
            failed = f"Webhook for {update.job_id} not delivered"
            seed = update.message_id
            yield from self._best_effort(DELIVER_WEBHOOK, webhook, WEBHOOK_RETRY, seed, failed)
        level = logging.INFO if succeeded else logging.WARNING
        self._log(level, "completed" if succeeded else f"ended {status}", result.get("reason"))

    def _publish(
        self, kind: UpdateKind, step: str, progress: int, status: str, result: Any
    ) -> Generator[Any, Any, JobUpdate]:
        self.sequence += 1
        update = JobUpdate(
            job_id=self.context.instance_id,
            job_type=self.job_type,
            sequence=self.sequence,
            kind=kind,
            step=step,
            progress=progress,
            status=status,
            occurred_at=self.context.current_utc_datetime.isoformat(),
            correlation_id=self.correlation_id,
            result=result,
        )
        request = PublishRequest(update=update, routing=self.routing)
        failed = f"Update {update.sequence} of {update.job_id} not published"
        seed = update.message_id
        yield from self._best_effort(PUBLISH_JOB_UPDATE, request, PUBLISH_RETRY, seed, failed)
        return update

    def _best_effort(
        self, activity: str, payload: Model, policy: RetryPolicy, seed: str, failed: str
    ) -> Generator[Any, Any, None]:
        """Results are best effort: one not sent is logged, and the job's outcome stands."""
        try:
            yield from call_activity_with_backoff(
                self.context, activity, payload.dump(), policy, seed=seed
            )
        except Exception as error:
            if not self.context.is_replaying:
                reason = failure_reason(error)
                logger.error("%s: %s [correlation %s]", failed, reason, self.correlation_id or "-")

    def _log(self, level: int, what: str, reason: str | None) -> None:
        log_job(
            self.context,
            self.job_type,
            what,
            self.correlation_id,
            self.started_at,
            level=level,
            reason=reason,
            enqueued_at=self.enqueued_at,
        )


def log_job(
    context: df.DurableOrchestrationContext,
    job_type: str,
    what: str,
    correlation_id: str | None,
    started_at: datetime | None,
    *,
    level: int = logging.INFO,
    reason: str | None = None,
    enqueued_at: str | None = None,
) -> None:
    """A job's start or end (never logged during replay): its ids and duration, never its data."""
    if context.is_replaying:
        return
    now = context.current_utc_datetime
    elapsed = now - (started_at or now).replace(tzinfo=now.tzinfo)
    duration_ms = int(elapsed.total_seconds() * 1000)
    fields = {
        "job_type": job_type,
        "instance_id": context.instance_id,
        "correlation_id": correlation_id or "-",
        "duration_ms": duration_ms,
    }
    if enqueued_at is not None:
        fields["enqueued_at"] = enqueued_at
    logger.log(
        level,
        "Job %s %s: type=%s instance=%s correlation=%s duration_ms=%d%s",
        context.instance_id,
        what,
        job_type,
        context.instance_id,
        fields["correlation_id"],
        duration_ms,
        f" reason={reason}" if reason else "",
        extra={"job": fields},
    )
