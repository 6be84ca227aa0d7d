"""Starts the thumbnail job for each new upload version, at most once per version.

The blob trigger uses the Event Grid source, the only one Flex Consumption runs. Event Grid
delivers at least once and that source keeps no receipts, so the same version can arrive
again: the instance id is a hash of the blob's name and ETag, and the starter looks before it
starts, because the extension's start_new silently REPLACES a finished instance with the same
id (it refuses only a running one). A new version (a new ETag) is a new job.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df
import azure.functions as func

import app_config
from adapters.telemetry import job_span
from adapters.thumbnail_store import UPLOADS_CONTAINER, thumbnail_store
from domain.images import ImageLimits, thumbnail_instance_id
from domain.thumbnails import JOB_TYPE, ThumbnailJob
from orchestrators.thumbnails import ORCHESTRATOR

logger = logging.getLogger(__name__)

# The extension's refusal for a Pending/Running id (AzureStorageOrchestrationService).
_ALREADY_EXISTS = "already exists"

bp = df.Blueprint()


@dataclass(frozen=True)
class ThumbnailStart:
    """What the starter did: `started` is False when this version already had a job."""

    instance_id: str
    started: bool
    runtime_status: str


async def start_thumbnails(
    client: df.DurableOrchestrationClient, name: str, etag: str, correlation_id: str | None
) -> ThumbnailStart:
    """Start the job for upload `name` at version `etag` unless it exists (running or done)."""
    instance_id = thumbnail_instance_id(name, etag)
    existing = await client.get_status(instance_id)
    if existing:  # falsy when there is no such instance
        status = existing.runtime_status.value if existing.runtime_status else "Pending"
        logger.info("Upload version %s already has job %s (%s)", etag, instance_id, status)
        return ThumbnailStart(instance_id, started=False, runtime_status=status)
    # Resolved here, once per job: an orchestrator must not read settings.
    job = ThumbnailJob(
        name=name,
        etag=etag,
        sizes=app_config.thumbnail_sizes(),
        limits=ImageLimits(**app_config.thumbnail_limits()),
        correlation_id=correlation_id or instance_id,
    )
    try:
        await client.start_new(ORCHESTRATOR, instance_id, job.dump())
    except Exception as error:  # the SDK raises a plain Exception with the extension's body
        if _ALREADY_EXISTS not in str(error):
            raise
        logger.info("Upload version %s lost a start race: job %s is running", etag, instance_id)
        return ThumbnailStart(instance_id, started=False, runtime_status="Running")
    # The name stays out of logs (users choose names, and they may be personal): the job's
    # status and result, which callers with the job id can read, carry it.
    logger.info("Upload version %s started job %s", etag, instance_id)
    return ThumbnailStart(instance_id, started=True, runtime_status="Pending")


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
    """Starts `make_thumbnails`; the job itself validates the upload and records the outcome."""
    name, etag = blob_version(blob)
    if etag is None:
        # Hosts send the ETag in the binding data; should one not, the upload's current version
        # is the best stand-in (a newer version then gets its job from its own event anyway).
        etag = await asyncio.to_thread(lambda: thumbnail_store().source_etag(name))
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
