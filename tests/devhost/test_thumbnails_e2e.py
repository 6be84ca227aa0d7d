"""Thumbnails end to end: the app at the repository root on devhost, Azurite, the Event Grid blob
trigger fed by devhost's local watcher (and its webhook for a redelivered event).

What the job did is read from storage (the thumbnails' bytes, content types and ETags), the
orchestration's output and history, and the job's status record, never from test stubs.
"""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from PIL import Image

from adapters.factory import build_result_adapters
from adapters.messaging import ServiceBusPublisher
from app_config import StorageConnection, result_channels, service_bus_settings
from devhost.azurite import Azurite
from devhost.blobs.eventgrid import blob_created_event
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until
from domain.images import thumbnail_instance_id
from triggers.job_registry import JOB_TYPES

EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
SIZES = (64, 128, 256)


@dataclass
class Studio:
    host: DevHostProcess
    storage: str
    uploads: ContainerClient
    thumbnails: ContainerClient

    def upload(self, data: bytes, name: str | None = None, suffix: str = ".jpg") -> tuple[str, str]:
        """Write an upload as a user would; returns its name and the job id of this version."""
        name = name or f"e2e/{uuid.uuid4().hex[:10]}{suffix}"
        blob = self.uploads.get_blob_client(name)
        blob.upload_blob(data, overwrite=True)
        return name, thumbnail_instance_id(name, str(blob.get_blob_properties().etag))

    def job(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        """The job's terminal status, once the watcher has delivered the upload."""
        wait_until(
            lambda: self.host.status(job_id) is not None,
            timeout,
            lambda: f"job {job_id}:\n{self.host.logs()[-3000:]}",
            interval=0.1,
        )
        return self.host.wait_for(job_id, timeout=timeout, history=True)

    def thumbnail(self, size: int, name: str) -> tuple[bytes, str, str]:
        blob = self.thumbnails.get_blob_client(f"{size}/{name}")
        props = blob.get_blob_properties()
        return blob.download_blob().readall(), props.content_settings.content_type, str(props.etag)

    def has_thumbnail(self, size: int, name: str) -> bool:
        try:
            self.thumbnails.get_blob_client(f"{size}/{name}").get_blob_properties()
        except ResourceNotFoundError:
            return False
        return True


@pytest.fixture(scope="module")
def studio(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    state = tmp_path_factory.mktemp("thumbnails-e2e")
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    containers = []
    for name in ("uploads", "thumbnails"):
        container = service.get_container_client(name)
        if not container.exists():
            container.create_container()
        containers.append(container)
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "ServiceBusConnection": EMULATOR,
        "THUMBNAIL_SIZES": ",".join(str(s) for s in SIZES),
        "THUMBNAIL_MAX_PIXELS": "30000000",
        # Its own host id: the watcher's snapshot and lease are per host.
        "AzureFunctionsWebHost__hostid": f"thumbs-{uuid.uuid4().hex[:8]}",
    }
    with DevHostProcess(PROJECT_ROOT, state_dir=state, virtual_time=True, env=env) as host:
        yield Studio(host, azurite.connection_string, containers[0], containers[1])


def jpeg(size: tuple[int, int], quality: int = 90) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(chunk[4:]))


def calls(status: dict[str, Any], name: str) -> int:
    return sum(
        1
        for e in status["historyEvents"]
        if e["EventType"] == "TaskCompleted" and e.get("FunctionName") == name
    )


def test_an_upload_becomes_thumbnails_of_exact_sizes_and_types(studio: Studio) -> None:
    name, job_id = studio.upload(jpeg((1200, 800)))
    png_name, png_job = studio.upload(_png((300, 500)), suffix=".png")
    status = studio.job(job_id)
    assert status["runtimeStatus"] == "Completed", status
    result = status["output"]
    assert result["status"] == "completed" and result["reason"] is None
    assert result["source"] == {
        "outcome": "valid",
        "reason": None,
        "format": "JPEG",
        "width": 1200,
        "height": 800,
        "bytes": len(jpeg((1200, 800))),
    }
    expected = {64: (64, 43), 128: (128, 85), 256: (256, 171)}
    assert [(t["size"], t["width"], t["height"]) for t in result["thumbnails"]] == [
        (size, *dims) for size, dims in expected.items()
    ]
    for size, dims in expected.items():
        data, content_type, _ = studio.thumbnail(size, name)
        assert content_type == "image/jpeg"
        assert Image.open(io.BytesIO(data)).size == dims
    assert calls(status, "make_thumbnail") == len(SIZES)
    assert status["customStatus"] == {"job_type": "thumbnail", "step": "completed", "progress": 100}

    png_status = studio.job(png_job)
    assert png_status["output"]["status"] == "completed"
    for size, dims in {64: (38, 64), 128: (77, 128), 256: (154, 256)}.items():
        data, content_type, _ = studio.thumbnail(size, png_name)
        assert content_type == "image/png" and Image.open(io.BytesIO(data)).size == dims

    # The fifth way of returning results: the job's status record, numbered updates.
    connection = StorageConnection(connection_string=studio.storage)
    publisher = ServiceBusPublisher(service_bus_settings({"ServiceBusConnection": EMULATOR}))
    record = build_result_adapters(connection, result_channels({}), publisher).status.get(job_id)
    assert record is not None
    assert (record.job_type, record.sequence, record.status) == ("thumbnail", 2, "completed")
    assert record.result == result


def test_the_same_version_redelivered_starts_nothing_and_writes_nothing(studio: Studio) -> None:
    name, job_id = studio.upload(jpeg((640, 480)))
    first = studio.job(job_id)
    written = {size: studio.thumbnail(size, name)[2] for size in SIZES}
    blob = studio.uploads.get_blob_client(name)
    event = blob_created_event(url=blob.url, etag=str(blob.get_blob_properties().etag))
    for _ in range(2):  # Event Grid delivers at least once: the same event again, twice
        answer = studio.host.http.post(
            studio.host.url(
                "/runtime/webhooks/blobs?functionName=Host.Functions.thumbnails_from_upload"
            ),
            data=json.dumps([event]),
            headers={"Content-Type": "application/json", "aeg-event-type": "Notification"},
            timeout=10,
        )
        assert answer.status_code == 202
    wait_until(
        lambda: studio.host.logs().count(f"already has job {job_id}") >= 2,
        30,
        lambda: studio.host.logs()[-3000:],
    )
    again = studio.host.status(job_id, history=True)
    assert again is not None and again["createdTime"] == first["createdTime"]
    assert calls(again, "make_thumbnail") == len(SIZES)
    assert {size: studio.thumbnail(size, name)[2] for size in SIZES} == written

    # A new version of the same name is a new job, which replaces the thumbnails.
    _, new_job = studio.upload(jpeg((480, 640)), name=name)
    assert new_job != job_id
    assert studio.job(new_job)["output"]["status"] == "completed"
    assert Image.open(io.BytesIO(studio.thumbnail(256, name)[0])).size == (192, 256)


@pytest.mark.parametrize(
    ("suffix", "data", "reason"),
    [
        (".jpg", jpeg((1600, 1200), quality=95)[:6000], "corrupt JPEG"),
        (".png", png_claiming(50_000, 50_000), "too large: 50000 x 50000 pixels"),
        (".png", jpeg((100, 100)), "the name's .png does not match the content (JPEG"),
        (".jpg", b"%%% definitely not a picture %%%", "not an image"),
    ],
    ids=["truncated-jpeg", "png-50000x50000", "wrong-extension", "not-an-image"],
)
def test_hostile_uploads_end_rejected_with_their_reason(
    studio: Studio, suffix: str, data: bytes, reason: str
) -> None:
    name, job_id = studio.upload(data, suffix=suffix)
    status = studio.job(job_id)
    assert status["runtimeStatus"] == "Completed", status  # an outcome, not a crash
    assert status["output"]["status"] == "rejected"
    assert reason in status["output"]["reason"]
    assert status["customStatus"]["step"] == "rejected"
    assert calls(status, "validate_upload") == 1  # never retried
    assert calls(status, "make_thumbnail") == 0
    assert not any(studio.has_thumbnail(size, name) for size in SIZES)


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 200, 30, 128)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.skipif(
    "thumbnail" not in JOB_TYPES, reason="the thumbnail job type is not registered in the job API"
)
def test_the_job_api_finds_the_job_of_the_current_version(studio: Studio) -> None:
    name, job_id = studio.upload(jpeg((300, 200)))
    assert studio.job(job_id)["output"]["status"] == "completed"
    jobs = studio.host.url("/api/jobs")
    again = studio.host.http.post(f"{jobs}/thumbnail", json={"blob": name}, timeout=30)
    assert again.status_code == 200, again.text  # the same job, finished: nothing started
    view = again.json()
    assert (view["id"], view["type"], view["runtime_status"]) == (job_id, "thumbnail", "Completed")
    assert (view["step"], view["progress"], view["result"]["status"]) == (
        "completed",
        100,
        "completed",
    )
    assert "cancel_url" not in view
    status = studio.host.http.get(f"{jobs}/{job_id}", timeout=30)
    assert status.status_code == 200 and status.json()["result"] == view["result"]
    missing = studio.host.http.post(f"{jobs}/thumbnail", json={"blob": "nope.jpg"}, timeout=30)
    assert missing.status_code == 404 and "no upload of this name" in missing.text
