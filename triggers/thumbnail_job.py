"""The `thumbnail` job type: POST /api/jobs/thumbnail {"blob": "<name in uploads>"}.

Makes the thumbnails of an upload's current version, for an upload that predates the trigger
or to see a job's outcome; it is the same job, with the same id, as the blob trigger starts for
that version, so asking twice (or after the trigger) starts nothing new.
"""

from __future__ import annotations

import asyncio
import re

import azure.durable_functions as df

from adapters.errors import storage_errors
from adapters.thumbnail_store import thumbnail_store
from domain.images import THUMBNAIL_ID_PREFIX, upload_name_problem
from orchestrators.thumbnails import ORCHESTRATOR
from triggers.job_types import (
    InvalidJobRequest,
    JobSubjectNotFound,
    JobType,
    StartedJob,
    StartRequest,
)
from triggers.thumbnails_blob import start_thumbnails

# The ids domain.images.thumbnail_instance_id gives: "thumb-" and 40 hex digits.
THUMBNAIL_JOB_ID = re.compile(re.escape(THUMBNAIL_ID_PREFIX) + r"[0-9a-f]{40}")


def _blob_name(body: object) -> str:
    if not isinstance(body, dict):
        raise InvalidJobRequest(["the body must be a JSON object"])
    unknown = sorted(set(body) - {"blob"})
    problems = [f"{field}: not a field of this job type" for field in unknown]
    name = body.get("blob")
    # Checked before storage is asked: a name such as "../x" would reach another container.
    name_problem = upload_name_problem(name)
    if name_problem is not None:
        problems.append(f"blob: {name_problem}")
    if problems:
        raise InvalidJobRequest(problems)
    return str(name)


async def start_thumbnail_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    name = _blob_name(request.body)
    with storage_errors("start thumbnail job"):
        etag = await asyncio.to_thread(lambda: thumbnail_store().source_etag(name))
    if etag is None:
        raise JobSubjectNotFound("There is no upload of this name in the uploads container.")
    started = await start_thumbnails(client, name, etag, request.correlation_id)
    return StartedJob(started.instance_id, started.runtime_status, duplicate=not started.started)


THUMBNAIL_JOB = JobType(
    name="thumbnail",
    orchestrator=ORCHESTRATOR,
    ids=THUMBNAIL_JOB_ID,
    start=start_thumbnail_job,
)
