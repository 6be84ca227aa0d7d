"""The `thumbnail` job: one per upload version, from the blob trigger or the job API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

import app_config
from adapters.errors import storage_errors
from adapters.factory import root
from adapters.telemetry import job_span
from adapters.thumbnail_store import UPLOADS_CONTAINER
from domain.images import THUMBNAIL_ID_PREFIX, thumbnail_instance_id
from domain.thumbnails import JOB_TYPE, ThumbnailJob, ThumbnailRequest, ThumbnailResult
from orchestrators.thumbnails import ORCHESTRATOR
from triggers.job_types import JobSubjectNotFound, JobType, StartRequest, job_ids
from triggers.start_once import Started, start_once

logger = logging.getLogger(__name__)

bp = df.Blueprint()


async def start_thumbnails(
    client: df.DurableOrchestrationClient, name: str, etag: str, correlation_id: str | None
) -> Started:
    """Start the job for upload `name` at version `etag` unless it exists (running or done)."""
    instance_id = thumbnail_instance_id(name, etag)
    # Resolved here, once per job: an orchestrator must not read settings.
    job = ThumbnailJob(
        name=name,
        etag=etag,
        sizes=app_config.thumbnail_sizes(),
        limits=app_config.thumbnail_limits(),
        correlation_id=correlation_id or instance_id,
    )
    # The name stays out of logs (users choose names, and they may be personal): the job's
    # status and result, which callers with the job id can read, carry it.
    label = f"Upload version {etag}"
    return await start_once(
        client, ORCHESTRATOR, instance_id, job, label=label, correlation_id=job.correlation_id
    )


async def start_thumbnail_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> Started:
    body: ThumbnailRequest = request.body
    with storage_errors("start thumbnail job"):
        etag = await asyncio.to_thread(lambda: root.thumbnails().source_etag(body.blob))
    if etag is None:
        raise JobSubjectNotFound("There is no upload of this name in the uploads container.")
    return await start_thumbnails(client, body.blob, etag, request.correlation_id)


THUMBNAIL_JOB = JobType(
    name="thumbnail",
    # domain.images.thumbnail_instance_id: "thumb-" and 40 hex digits.
    ids=job_ids(THUMBNAIL_ID_PREFIX, r"[0-9a-f]{40}"),
    orchestrator=ORCHESTRATOR,
    request=ThumbnailRequest,
    result=ThumbnailResult,
    start=start_thumbnail_job,
)


def blob_version(blob: func.InputStream) -> tuple[str, str | None]:
    """The blob's name inside the container and the ETag of the version that triggered.

    The ETag comes from the trigger's binding data (`Properties.ETag`), quoted as storage
    quotes it; None if the host did not send it.
    """
    name = (blob.name or "").removeprefix(f"{UPLOADS_CONTAINER}/")
    properties: Any = getattr(blob, "blob_properties", None) or {}
    etag = (
        properties.get("ETag") or properties.get("Etag") if isinstance(properties, dict) else None
    )
    if not isinstance(etag, str) or not etag:
        return name, None
    return name, etag if etag.startswith('"') else f'"{etag}"'


@bp.function_name("thumbnails_from_upload")
@bp.blob_trigger(
    arg_name="blob",
    path=f"{UPLOADS_CONTAINER}/{{name}}",
    connection="AzureWebJobsStorage",
    source=func.BlobSource.EVENT_GRID,
)
@bp.durable_client_input(client_name="client")
async def thumbnails_from_upload(
    blob: func.InputStream, client: df.DurableOrchestrationClient
) -> None:
    """Starts `make_thumbnails`; the job itself validates the upload and records the outcome.
    Event Grid, the only blob source Flex Consumption runs, delivers at least once and keeps no
    receipts: the instance id, a hash of the name and ETag, makes a repeat start nothing."""
    name, etag = blob_version(blob)
    if etag is None:
        # Hosts send the ETag in the binding data; should one not, the upload's current version
        # is the best stand-in (a newer version then gets its job from its own event anyway).
        etag = await asyncio.to_thread(lambda: root.thumbnails().source_etag(name))
        if etag is None:
            logger.info("An upload was deleted before its job could start")
            return
    # An upload event carries no correlation id: the job's own id serves as one, as
    # start_thumbnails does for the job's input. The span holds ids only, never the name.
    instance_id = thumbnail_instance_id(name, etag)
    with job_span(
        "start thumbnails from upload",
        job_type=JOB_TYPE,
        instance_id=instance_id,
        correlation_id=instance_id,
    ):
        await start_thumbnails(client, name, etag, correlation_id=instance_id)
