"""Upload names on the blob trigger (docs/thumbnails.md): whatever name storage gives the trigger,
the job starts once and ends with an outcome; a name the thumbnail rules refuse ends `rejected`
with the reason, validated once, and nothing crashes, retries or lands in the poison queue.

The app at the repository root on devhost and Azurite, the Event Grid blob trigger fed by
devhost's local watcher, as tests/devhost/test_thumbnails_e2e.py runs it.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient
from PIL import Image

from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, wait_until
from domain.images import MAX_NAME_LENGTH, thumbnail_instance_id

SIZE = 64
POISON_QUEUE = "webjobs-blobtrigger-poison"  # where the host moves a blob that keeps failing


@dataclass
class Uploads:
    host: DevHostProcess
    storage: str
    uploads: ContainerClient
    thumbnails: ContainerClient

    def upload(self, name: str) -> str:
        """Write a small, valid JPEG under `name`; the job id of this version."""
        blob = self.uploads.get_blob_client(name)
        blob.upload_blob(JPEG, overwrite=True)
        return thumbnail_instance_id(name, str(blob.get_blob_properties().etag))

    def outcome(self, job_id: str) -> dict[str, Any]:
        wait_until(
            lambda: self.host.status(job_id) is not None,
            90,
            lambda: f"job {job_id} never started:\n{self.host.logs()[-3000:]}",
            interval=0.1,
        )
        return self.host.wait_for(job_id, timeout=90, history=True)

    def has_thumbnail(self, name: str) -> bool:
        try:
            self.thumbnails.get_blob_client(f"{SIZE}/{name}").get_blob_properties()
        except ResourceNotFoundError:
            return False
        return True

    def poisoned(self) -> list[str]:
        queue = QueueClient.from_connection_string(self.storage, POISON_QUEUE)
        try:
            return [m.content for m in queue.peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            return []


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((160, 120)).convert("RGB").save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg()


@pytest.fixture(scope="module")
def uploads(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uploads]:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    containers = [service.get_container_client(name) for name in ("uploads", "thumbnails")]
    for container in containers:
        if not container.exists():
            container.create_container()
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "ServiceBusConnection": (
            "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
        ),
        "THUMBNAIL_SIZES": str(SIZE),
        "AzureFunctionsWebHost__hostid": f"names-{uuid.uuid4().hex[:8]}",
    }
    state = tmp_path_factory.mktemp("blob-names")
    with DevHostProcess(PROJECT_ROOT, state_dir=state, virtual_time=True, env=env) as host:
        yield Uploads(host, azurite.connection_string, *containers)


def _folder() -> str:
    return f"names-{uuid.uuid4().hex[:8]}"


def _at_most(length: int) -> str:
    """A name of exactly `length` characters ending in .jpg."""
    folder = _folder() + "/"
    return folder + "x" * (length - len(folder) - len(".jpg")) + ".jpg"


ACCEPTED = {
    "spaces": lambda: f"{_folder()}/holiday photo of the cat.jpg",
    "upper-case extension": lambda: f"{_folder()}/CAT.JPG",
    "jpeg extension": lambda: f"{_folder()}/cat.jpeg",
    "non-ascii": lambda: f"{_folder()}/Café Ünïcödé ☃.jpg",
    f"{MAX_NAME_LENGTH} characters": lambda: _at_most(MAX_NAME_LENGTH),
}
REFUSED = {
    "no extension": (lambda: f"{_folder()}/cat", "the name's no extension does not match"),
    "text extension": (lambda: f"{_folder()}/cat.txt", "the name's .txt does not match"),
    "gif extension": (lambda: f"{_folder()}/cat.gif", "the name's .gif does not match"),
    "dot in the folder only": (
        lambda: f"{_folder()}.jpg/cat",
        "the name's no extension does not match",
    ),
    f"{MAX_NAME_LENGTH + 1} characters": (
        lambda: _at_most(MAX_NAME_LENGTH + 1),
        f"the blob name must have 1 to {MAX_NAME_LENGTH} characters",
    ),
    "an empty path segment": (
        lambda: f"{_folder()}//cat.jpg",
        "the blob name is not allowed: path segments must not be empty",
    ),
    "1,024 characters (Azure's limit)": (
        lambda: _at_most(1024),
        f"the blob name must have 1 to {MAX_NAME_LENGTH} characters",
    ),
}


@pytest.mark.parametrize("make_name", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_names_the_rules_allow_become_thumbnails(uploads: Uploads, make_name: Any) -> None:
    name = make_name()
    status = uploads.outcome(uploads.upload(name))
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "completed", status["output"]
    assert status["output"]["blob"] == name
    assert uploads.has_thumbnail(name)


@pytest.mark.parametrize(("make_name", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_names_the_rules_refuse_end_rejected_once_with_the_reason(
    uploads: Uploads, make_name: Any, reason: str
) -> None:
    name = make_name()
    job_id = uploads.upload(name)
    status = uploads.outcome(job_id)
    assert status["runtimeStatus"] == "Completed", status  # an outcome, not a crash
    output = status["output"]
    assert (output["status"], output["blob"]) == ("rejected", name)
    assert output["reason"].startswith(reason), output["reason"]
    assert status["customStatus"]["step"] == "rejected"
    validated = [
        e
        for e in status["historyEvents"]
        if e["EventType"] in ("TaskCompleted", "TaskFailed")
        and e.get("FunctionName") == "validate_upload"
    ]
    assert len(validated) == 1  # never retried
    assert not uploads.has_thumbnail(name)

    # The trigger started the job and succeeded: nothing for the host to retry or poison.
    logs = uploads.host.logs()
    assert f"started as {job_id}" in logs
    assert "Executed 'Functions.thumbnails_from_upload' (Failed" not in logs
    assert uploads.poisoned() == []
