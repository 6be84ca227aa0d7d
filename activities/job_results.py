"""The `publish_job_update` activity: a job's numbered update to its status record, topic, reply.

One activity, three idempotent effects in a fixed order, so a retry after a crash anywhere in
between repeats only what is harmless: the status record ignores an update it already has
(sequence numbers), and the topic event and the reply keep the update's MessageId, which the
entities' duplicate detection drops. Milestones go to the record and the topic; the final
update also becomes the reply when the job was started by a message.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func
from opentelemetry import trace

from adapters.errors import storage_errors
from adapters.factory import ResultAdapters, result_adapters
from adapters.messaging import Outgoing
from adapters.telemetry import job_ids
from domain.failures import JobFailure, PermanentFailure
from domain.job_updates import PublishOutcome, PublishRequest
from domain.payload import InvalidPayload, read

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

ACTIVITY = "publish_job_update"

bp = func.Blueprint()


def publish(payload: Any, adapters: ResultAdapters) -> dict[str, Any]:
    """Publish one update; returns what was done, for the orchestrator's record."""
    try:
        request = read(PublishRequest, payload)
    except InvalidPayload as error:
        raise PermanentFailure(f"invalid {ACTIVITY} input: {error}") from error
    update = request.update
    where = f"{update.job_id} update {update.sequence} [correlation {update.correlation_id or '-'}]"
    # A job's id is its orchestration instance id.
    attributes = {
        "job.id": update.job_id,
        **job_ids(update.job_type, update.job_id, update.correlation_id),
    }
    try:
        with tracer.start_as_current_span(ACTIVITY, attributes=attributes):
            applied, replied_to = _publish(request, adapters)
    except JobFailure as error:
        logger.warning("%s failed for %s: %s", ACTIVITY, where, error)
        raise
    logger.info("Published %s (%s, %s)", where, update.kind, update.status)
    outcome = PublishOutcome(
        sequence=update.sequence, status_applied=applied, replied_to=replied_to
    )
    return outcome.dump()


def _publish(request: PublishRequest, adapters: ResultAdapters) -> tuple[bool, str | None]:
    update = request.update
    with storage_errors(ACTIVITY):
        applied = adapters.status.apply(update)
    properties = {"job_type": update.job_type, "sequence": update.sequence, "status": update.status}
    message = Outgoing(
        update.dump(), update.message_id, update.correlation_id, update.subject, properties
    )
    adapters.publisher.publish_to_topic(adapters.channels.events_topic, message)
    replied_to = request.reply_queue
    if replied_to is not None:
        adapters.publisher.send_to_queue(replied_to, message)
    return applied, replied_to


@bp.activity_trigger(input_name="payload")
def publish_job_update(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        with storage_errors(ACTIVITY):  # building the adapters reaches storage too
            adapters = result_adapters()
    except ValueError as error:  # a missing or invalid setting: no retry can fix it
        raise PermanentFailure(f"{ACTIVITY} is not configured: {error}") from error
    return publish(payload, adapters)
