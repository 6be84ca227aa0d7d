"""The `publish_job_update` activity: a job's numbered update to its status record, topic, reply."""

from __future__ import annotations

from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import ResultAdapters, root
from adapters.messaging import Outgoing
from domain.job_updates import PublishOutcome, PublishRequest


def _ids(request: PublishRequest) -> JobIds:
    update = request.update  # a job's id is its orchestration instance id
    label = f"{update.job_id} update {update.sequence}"
    return JobIds(
        update.job_type, update.job_id, update.correlation_id, label, {"job.id": update.job_id}
    )


bp = ActivityBlueprint(adapters=root.results, ids=_ids)

PUBLISH_JOB_UPDATE = "publish_job_update"


@bp.activity(PUBLISH_JOB_UPDATE, PublishRequest)
def publish_job_update(request: PublishRequest, adapters: ResultAdapters) -> PublishOutcome:
    """Three idempotent effects in a fixed order, so a retry repeats only what is harmless: the
    status record ignores an update it has (sequence numbers); the topic event and the reply
    (final updates of message-started jobs) keep the update's MessageId for duplicate detection."""
    update = request.update
    applied = adapters.status.apply(update)
    properties = {"job_type": update.job_type, "sequence": update.sequence, "status": update.status}
    message = Outgoing(
        update.dump(), update.message_id, update.correlation_id, update.subject, properties
    )
    adapters.publisher.publish_to_topic(adapters.channels.events_topic, message)
    replied_to = request.reply_queue
    if replied_to is not None:
        adapters.publisher.send_to_queue(replied_to, message)
    return PublishOutcome(sequence=update.sequence, status_applied=applied, replied_to=replied_to)
