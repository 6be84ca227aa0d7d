"""Starting thumbnail jobs: one per upload version, from the blob trigger or the job API.

The durable client is a hand-written fake that behaves like the extension (it knows instances,
refuses a running id); the upload and its ETag are real, on Azurite.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus
from azure.functions.blob import InputStream as BlobStream
from azure.storage.blob import BlobServiceClient

from adapters.factory import root
from devhost.azurite import Azurite
from domain.images import thumbnail_instance_id
from domain.payload import read
from domain.thumbnails import ThumbnailJob, ThumbnailRequest
from triggers.job_types import JobSubjectNotFound, StartRequest
from triggers.thumbnail_job import THUMBNAIL_JOB, blob_version, start_thumbnails


@dataclass
class Status:
    runtime_status: OrchestrationRuntimeStatus


@dataclass
class FakeClient:
    """Instances by id; start_new refuses a running id as the extension does."""

    instances: dict[str, str] = field(default_factory=dict)
    started: list[tuple[str, str, Any]] = field(default_factory=list)
    race: bool = False

    async def get_status(self, instance_id: str) -> Status | None:
        status = self.instances.get(instance_id)
        return None if status is None else Status(OrchestrationRuntimeStatus(status))

    async def start_new(self, name: str, instance_id: str, input_: Any) -> str:
        if self.race:  # another starter got there between our look and our start
            raise Exception("An Orchestration instance with the status Running already exists.")
        self.started.append((name, instance_id, input_))
        self.instances[instance_id] = "Pending"
        return instance_id


@pytest.fixture
def uploads(
    azurite: Azurite, storage_setting: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, bytes], str]]:
    storage_setting(azurite.connection_string)
    monkeypatch.setenv("THUMBNAIL_SIZES", "256,64")
    root.reset()
    service = BlobServiceClient.from_connection_string(azurite.connection_string)

    def upload(name: str, data: bytes) -> str:
        root.thumbnails()  # creates the containers
        blob = service.get_blob_client("uploads", name)
        blob.upload_blob(data, overwrite=True)
        return str(blob.get_blob_properties().etag)

    yield upload
    root.reset()


def request(name: str) -> StartRequest:
    """A start request as the job API hands it over: the body already read with its model."""
    return StartRequest(ThumbnailRequest(blob=name), datetime.now(UTC), "corr-api")


def test_the_job_api_starts_the_current_version_once(uploads: Callable[[str, bytes], str]) -> None:
    name = f"api/{uuid.uuid4().hex[:8]}.jpg"
    etag = uploads(name, b"\xff\xd8\xff not really")
    client = FakeClient()
    first = asyncio.run(THUMBNAIL_JOB.start(client, request(name)))  # type: ignore[arg-type]
    assert first.instance_id == thumbnail_instance_id(name, etag) and first.started
    assert THUMBNAIL_JOB.owns(first.instance_id) and not THUMBNAIL_JOB.owns("order-1")
    [(orchestrator, instance_id, job)] = client.started
    assert (orchestrator, instance_id) == ("make_thumbnails", first.instance_id)
    parsed = read(ThumbnailJob, job)
    assert (parsed.name, parsed.etag, parsed.sizes) == (name, etag, (64, 256))
    assert parsed.correlation_id == "corr-api"

    client.instances[first.instance_id] = "Completed"  # finished: the extension would REPLACE it
    again = asyncio.run(THUMBNAIL_JOB.start(client, request(name)))  # type: ignore[arg-type]
    assert (again.instance_id, again.started, again.runtime_status) == (
        first.instance_id,
        False,
        "Completed",
    )
    assert len(client.started) == 1

    new_etag = uploads(name, b"\xff\xd8\xff another version")
    newer = asyncio.run(THUMBNAIL_JOB.start(client, request(name)))  # type: ignore[arg-type]
    assert newer.instance_id == thumbnail_instance_id(name, new_etag) != first.instance_id


def test_a_lost_start_race_is_a_duplicate_not_an_error() -> None:
    client = FakeClient(race=True)
    outcome = asyncio.run(start_thumbnails(client, "cat.jpg", '"0x1"', None))  # type: ignore[arg-type]
    assert (outcome.started, outcome.runtime_status) == (False, "Running")


def test_the_job_type_reads_its_body_with_the_blob_name_model() -> None:
    """The job API parses the body with this model (name rules: tests/unit)."""
    assert THUMBNAIL_JOB.request is ThumbnailRequest


def test_a_job_for_an_upload_that_does_not_exist_is_not_found(
    uploads: Callable[[str, bytes], str],
) -> None:
    """An unknown upload is answered as every unknown id is (404), not as a malformed body."""
    uploads("exists.jpg", b"x")
    with pytest.raises(JobSubjectNotFound, match="no upload of this name"):
        asyncio.run(THUMBNAIL_JOB.start(FakeClient(), request("nothing-here.jpg")))  # type: ignore[arg-type]


def test_the_blob_trigger_reads_name_and_version_from_its_binding_data() -> None:
    stream = BlobStream(
        data=b"", name="uploads/a/cat.jpg", blob_properties={"ETag": '"0x8D1"', "Length": 0}
    )
    assert blob_version(stream) == ("a/cat.jpg", '"0x8D1"')
    unquoted = BlobStream(data=b"", name="uploads/c.jpg", blob_properties={"ETag": "0x8D2"})
    assert blob_version(unquoted) == ("c.jpg", '"0x8D2"')
    assert blob_version(BlobStream(data=b"", name="uploads/d.jpg")) == ("d.jpg", None)
