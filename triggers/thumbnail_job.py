"""The `thumbnail` job type: POST /api/jobs/thumbnail {"blob": "<name in uploads>"}.

Makes the thumbnails of an upload's current version, for an upload that predates the trigger
or to see a job's outcome; it is the same job, with the same id, as the blob trigger starts for
that version, so asking twice (or after the trigger) starts nothing new. The job API reads the
body with ThumbnailRequest, whose name rules refuse a name such as "../x" before storage is
asked (it would reach another container).
"""

from __future__ import annotations

import asyncio
import re

import azure.durable_functions as df

from adapters.errors import storage_errors
from adapters.thumbnail_store import thumbnail_store
from domain.images import THUMBNAIL_ID_PREFIX
from domain.thumbnails import ThumbnailRequest, ThumbnailResult
from orchestrators.thumbnails import ORCHESTRATOR
from triggers.job_types import JobSubjectNotFound, JobType, StartedJob, StartRequest
from triggers.thumbnails_blob import start_thumbnails

# The ids domain.images.thumbnail_instance_id gives: "thumb-" and 40 hex digits.
THUMBNAIL_JOB_ID = re.compile(THUMBNAIL_ID_PREFIX + r"[0-9a-f]{40}")


async def start_thumbnail_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    body: ThumbnailRequest = request.body
    with storage_errors("start thumbnail job"):
        etag = await asyncio.to_thread(lambda: thumbnail_store().source_etag(body.blob))
    if etag is None:
        raise JobSubjectNotFound("There is no upload of this name in the uploads container.")
    started = await start_thumbnails(client, body.blob, etag, request.correlation_id)
    return StartedJob(started.instance_id, started.runtime_status, duplicate=not started.started)


THUMBNAIL_JOB = JobType(
    name="thumbnail",
    orchestrator=ORCHESTRATOR,
    ids=THUMBNAIL_JOB_ID,
    request=ThumbnailRequest,
    result=ThumbnailResult,
    start=start_thumbnail_job,
)
