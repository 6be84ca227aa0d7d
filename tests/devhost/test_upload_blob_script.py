"""scripts/upload_blob.py, run as a user runs it, against devhost's copy of the blob webhook.

Under Core Tools nothing posts BlobCreated events for Azurite, so the script is what starts an
Event Grid blob trigger there; devhost serves the same webhook, which these tests drive.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient
from PIL import Image

from devhost.azurite import Azurite, build_connection_string
from devhost.blobs.eventgrid import message_for
from devhost.testing import PROJECT_ROOT, DevHostProcess, WebhookReceiver, linked_app, wait_until
from domain.images import thumbnail_instance_id
from scripts.upload_blob import WEBHOOK_PATH, webhook_url

SCRIPT = PROJECT_ROOT / "scripts" / "upload_blob.py"
FUNCTION = "thumbnails_from_upload"
SIZES = (64, 128)
SERVICE_BUS_EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)


_APP: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app directory the script runs from: the repository's app (symlinked) without any
    local.settings.json a developer created there, which the script would otherwise read."""
    folder = linked_app(tmp_path_factory.mktemp("upload-app"))
    _APP[:] = [folder]
    return folder


def run_script(azurite: Azurite, *args: str) -> subprocess.CompletedProcess[str]:
    """The script in its own process, from the app directory, as a developer runs it."""
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string}
    env.pop("PYTHONPATH", None)  # it must find its own imports
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=_APP[0],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def jpeg(path: Path, size: tuple[int, int] = (300, 200)) -> Path:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.save(path, "JPEG", quality=85)
    return path


def blob(azurite: Azurite, container: str, name: str) -> BlobClient:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    return service.get_blob_client(container, name)


def exists(client: BlobClient) -> bool:
    try:
        client.get_blob_properties()
    except ResourceNotFoundError:
        return False
    return True


@contextlib.contextmanager
def no_local_watcher(azurite: Azurite, host_id: str, container: str) -> Iterator[None]:
    """Hold the lease devhost's watcher of `container` needs, so only the webhook delivers.

    That is Core Tools' situation: no event reaches the host unless someone posts it. The
    lease is the one that keeps two devhosts from watching one container (a blob in the hosts
    container); the test checks below that the watcher indeed never started.
    """
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    hosts = service.get_container_client("azure-webjobs-hosts")
    with contextlib.suppress(ResourceExistsError):
        hosts.create_container()
    lock = hosts.get_blob_client(f"locks/{host_id}.AzureWebJobsStorage.{container}.blobwatch")
    with contextlib.suppress(ResourceExistsError):
        lock.upload_blob(b"", overwrite=False)
    lease = lock.acquire_lease(lease_duration=-1)
    try:
        yield
    finally:
        lease.release()


def wait_for_job(host: DevHostProcess, job_id: str, timeout: float = 90) -> dict[str, Any]:
    wait_until(
        lambda: host.status(job_id) is not None,
        timeout,
        lambda: f"job {job_id}:\n{host.logs()[-3000:]}",
        interval=0.1,
    )
    return host.wait_for(job_id, timeout=timeout, history=True)


@pytest.fixture
def thumbnails_host(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess]
) -> Iterator[DevHostProcess]:
    """The app at the repository root on devhost, with its Event Grid watcher kept off."""
    host_id = f"upload-cli-{uuid.uuid4().hex[:8]}"
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "ServiceBusConnection": SERVICE_BUS_EMULATOR,
        "THUMBNAIL_SIZES": ",".join(str(size) for size in SIZES),
        "AzureFunctionsWebHost__hostid": host_id,
    }
    with no_local_watcher(azurite, host_id, "uploads"):
        host = devhost_factory(PROJECT_ROOT, env=env, virtual_time=True)
        host.start()
        yield host
        host.stop()


def test_an_upload_posted_by_the_script_makes_thumbnails_with_no_other_event_source(
    azurite: Azurite, thumbnails_host: DevHostProcess, tmp_path: Path
) -> None:
    """Rule: a blob trigger with the Event Grid source runs only when a BlobCreated event is
    POSTed to /runtime/webhooks/blobs?functionName=Host.Functions.<name>; Azurite raises none,
    so under Core Tools the script's POST is the only thing that starts the thumbnail job.

    Source: https://learn.microsoft.com/azure/azure-functions/functions-event-grid-blob-trigger
    ("Build the endpoint URL")
    """
    name = f"cli/{uuid.uuid4().hex[:10]}.jpg"
    picture = jpeg(tmp_path / "cat.jpg")

    done = run_script(azurite, f"uploads/{name}", str(picture), "--host", thumbnails_host.base_url)

    assert done.returncode == 0, done.stderr
    uploaded = blob(azurite, "uploads", name)
    etag = str(uploaded.get_blob_properties().etag)
    assert f"uploaded {uploaded.url} ({picture.stat().st_size} bytes, image/jpeg" in done.stdout
    assert f"ETag {etag}" in done.stdout
    assert f"{WEBHOOK_PATH}?functionName=Host.Functions.{FUNCTION}: HTTP 202" in done.stdout, (
        done.stdout
    )
    status = wait_for_job(thumbnails_host, thumbnail_instance_id(name, etag))
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "completed", status["output"]
    for size in SIZES:
        thumbnail = blob(azurite, "thumbnails", f"{size}/{name}")
        assert thumbnail.get_blob_properties().content_settings.content_type == "image/jpeg"
        data = thumbnail.download_blob().readall()
        assert max(Image.open(io.BytesIO(data)).size) == size
    logs = thumbnails_host.logs()
    assert "Watching container 'uploads'" not in logs  # the event came from the script alone
    assert "BlobCreated: " not in logs


def test_the_event_carries_what_the_extension_reads_consistent_with_the_upload(
    azurite: Azurite, tmp_path: Path
) -> None:
    """Rule: the blob extension reads each event's data.url (container and blob name),
    data.blobType and data.eTag (which it wraps in quotes) from an Event Grid schema
    Microsoft.Storage.BlobCreated event, delivered as an array with aeg-event-type: Notification.

    Source: https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage
    ("Example events", Event Grid event schema, Microsoft.Storage.BlobCreated event)
    """
    name = f"cli/{uuid.uuid4().hex[:10]} 1.jpg"  # a space: the URL must stay readable
    picture = jpeg(tmp_path / "cat.jpg")
    with WebhookReceiver(path=WEBHOOK_PATH, status=202) as receiver:
        base = receiver.url.removesuffix(WEBHOOK_PATH)
        args = ["--host", base, "--function", "on_upload", "--code", "s3cret-key"]
        done = run_script(azurite, f"uploads/{name}", str(picture), *args)
    assert done.returncode == 0, done.stderr
    assert "s3cret-key" not in done.stdout  # the key is never printed
    assert "code=***" in done.stdout
    [delivery] = receiver.deliveries
    headers = {key.lower(): value for key, value in delivery.headers.items()}
    assert headers["aeg-event-type"] == "Notification"
    assert headers["content-type"] == "application/json"
    [event] = json.loads(delivery.body)
    uploaded = blob(azurite, "uploads", name)
    properties = uploaded.get_blob_properties()
    data = event["data"]
    assert event["eventType"] == "Microsoft.Storage.BlobCreated"
    assert event["subject"] == f"/blobServices/default/containers/uploads/blobs/{name}"
    assert (event["dataVersion"], event["metadataVersion"]) == ("", "1")
    assert {"id", "topic", "eventTime"} <= event.keys()
    assert data["url"] == uploaded.url
    assert f'"{data["eTag"]}"' == properties.etag  # as the extension rebuilds it
    assert data["blobType"] == "BlockBlob"
    assert (data["contentLength"], data["contentType"]) == (picture.stat().st_size, "image/jpeg")
    assert data["api"] == "PutBlob" and data["sequencer"]
    # The URL names the very blob: the bytes behind it are the file's.
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    by_url = BlobClient.from_blob_url(data["url"], credential=service.credential)
    assert by_url.download_blob().readall() == picture.read_bytes()
    # devhost's copy of the extension's reading turns it into this blob at this version.
    message = message_for(event, "Host.Functions.on_upload")
    assert (message.container, message.blob, message.etag) == ("uploads", name, properties.etag)
    assert message.blob_type == "BlockBlob"


def test_the_webhook_url_names_the_function_and_carries_the_key_encoded() -> None:
    url = webhook_url("http://localhost:7071/", "thumbnails_from_upload", "a/b+c==")
    assert url == (
        "http://localhost:7071/runtime/webhooks/blobs"
        "?functionName=Host.Functions.thumbnails_from_upload&code=a%2Fb%2Bc%3D%3D"
    )
    assert (
        webhook_url("http://h:1", "f")
        == "http://h:1/runtime/webhooks/blobs?functionName=Host.Functions.f"
    )


def test_a_container_no_event_grid_trigger_watches_is_refused_before_uploading(
    azurite: Azurite, tmp_path: Path
) -> None:
    """Rule: Event Grid delivers a container's BlobCreated events only to the blob triggers
    subscribed to that container (one event subscription per function), so a blob elsewhere
    has no function to notify.

    Source: https://learn.microsoft.com/azure/azure-functions/functions-event-grid-blob-trigger
    ("Create the event subscription")
    """
    container = f"nowhere-{uuid.uuid4().hex[:8]}"
    note = tmp_path / "note.txt"
    note.write_text("hello")

    done = run_script(azurite, f"{container}/note.txt", str(note))

    assert done.returncode == 2
    assert f"no Event Grid blob trigger watches the container '{container}'" in done.stderr
    assert f"{FUNCTION} (uploads)" in done.stderr  # what would have matched
    assert "Traceback" not in done.stderr
    assert not exists(blob(azurite, container, "note.txt"))


def test_an_unreachable_webhook_is_a_clear_error_after_the_upload(
    azurite: Azurite, tmp_path: Path, closed_port: int
) -> None:
    name = f"cli/{uuid.uuid4().hex[:10]}.jpg"
    host = f"http://127.0.0.1:{closed_port}"

    done = run_script(azurite, f"uploads/{name}", str(jpeg(tmp_path / "a.jpg")), "--host", host)

    assert done.returncode == 1
    assert "uploaded, but the event was not delivered: could not reach the webhook" in done.stderr
    assert f"{host}{WEBHOOK_PATH}?functionName=Host.Functions.{FUNCTION}" in done.stderr
    assert "Traceback" not in done.stderr
    assert exists(blob(azurite, "uploads", name))


def test_unreachable_storage_is_a_clear_error_and_nothing_is_posted(
    azurite: Azurite, tmp_path: Path, closed_port: int
) -> None:
    storage = build_connection_string(blob_port=closed_port)
    with WebhookReceiver(path=WEBHOOK_PATH, status=202) as receiver:
        base = receiver.url.removesuffix(WEBHOOK_PATH)
        args = ["--host", base, "--function", FUNCTION, "--connection-string", storage]
        done = run_script(azurite, "uploads/cli/x.jpg", str(jpeg(tmp_path / "x.jpg")), *args)
    assert done.returncode == 1
    assert f"could not upload to http://127.0.0.1:{closed_port}/" in done.stderr
    assert "Traceback" not in done.stderr
    assert receiver.deliveries == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "answered HTTP 401 Unauthorized (the host checks keys: pass --code"),
        (500, "answered HTTP 500 Internal Server Error"),
    ],
)
def test_a_webhook_error_status_is_reported_with_a_nonzero_exit(
    azurite: Azurite, tmp_path: Path, status: int, expected: str
) -> None:
    """Rule: Azure (and `func start --enableAuth`) refuse /runtime/webhooks/blobs without the
    blobs_extension system key; plain Core Tools bypasses authorization, so `code=` is needed
    only there.

    Source: https://learn.microsoft.com/azure/azure-functions/functions-run-local
    ("Considerations when running locally")
    """
    with WebhookReceiver(path=WEBHOOK_PATH, status=status) as receiver:
        base = receiver.url.removesuffix(WEBHOOK_PATH)
        done = run_script(
            azurite, "uploads/cli/err.jpg", str(jpeg(tmp_path / "e.jpg")), "--host", base
        )
    assert done.returncode == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("blob_arg", "file_name", "message"),
    [
        ("uploads/cli/missing.jpg", "missing.jpg", "no such file:"),
        ("just-a-container", "present.txt", "the blob must be container/path"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    azurite: Azurite, tmp_path: Path, blob_arg: str, file_name: str, message: str
) -> None:
    (tmp_path / "present.txt").write_text("x")
    done = run_script(azurite, blob_arg, str(tmp_path / file_name), "--host", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
