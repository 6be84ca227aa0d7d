"""Event Grid blob triggers on devhost: the extension's webhook and the local watcher."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.blobs.eventgrid import blob_created_event
from devhost.testing import DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "blob_triggers"
WEBHOOK = "/runtime/webhooks/blobs"
FUNCTION = "Host.Functions.on_upload"


class Uploads:
    """One test's uploads container, journal and settings."""

    def __init__(self, azurite: Azurite, tmp_path: Path) -> None:
        self.prefix = f"e{uuid.uuid4().hex[:8]}-"
        self.journal = tmp_path / "journal.jsonl"
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        self.container = service.get_container_client(f"{self.prefix}uploads")
        self.container.create_container()
        self.env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "BLOB_PREFIX": self.prefix,
            "BLOB_JOURNAL": str(self.journal),
            "AzureFunctionsWebHost__hostid": f"eg-{self.prefix.rstrip('-')}",
        }

    def upload(self, name: str, data: bytes) -> tuple[str, str]:
        """Write a blob; returns its URL and ETag."""
        blob = self.container.get_blob_client(name)
        blob.upload_blob(data, overwrite=True)
        return blob.url, str(blob.get_blob_properties().etag)

    def runs(self, name: str | None = None) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        rows = [json.loads(line) for line in self.journal.read_text().splitlines() if line]
        wanted = None if name is None else f"{self.container.container_name}/{name}"
        return [r for r in rows if r["function"] == "on_upload" and wanted in (None, r["name"])]


@pytest.fixture
def uploads(azurite: Azurite, tmp_path: Path) -> Uploads:
    return Uploads(azurite, tmp_path)


def post(host: DevHostProcess, body: Any, kind: str | None, function: str = FUNCTION) -> Any:
    headers = {"Content-Type": "application/json"}
    if kind:
        headers["aeg-event-type"] = kind
    data = body if isinstance(body, str) else json.dumps(body)
    return host.http.post(
        host.url(f"{WEBHOOK}?functionName={function}"), data=data, headers=headers, timeout=10
    )


def test_webhook_handshakes_and_blob_created_events_in_both_schemas(
    uploads: Uploads, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    # Written before devhost starts: the local watcher never reports them, only the webhook.
    eg_url, eg_etag = uploads.upload("eg.txt", b"event grid schema")
    ce_url, ce_etag = uploads.upload("ce.txt", b"cloud events schema")
    host = devhost_factory(APP, env=uploads.env)
    host.start()

    options = host.http.options(
        host.url(f"{WEBHOOK}?functionName={FUNCTION}"),
        headers={"WebHook-Request-Origin": "eventgrid.azure.net"},
        timeout=10,
    )
    assert options.status_code == 200
    assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    validation = [
        {
            "id": str(uuid.uuid4()),
            "topic": "/subscriptions/x",
            "subject": "",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
            "dataVersion": "2",
            "metadataVersion": "1",
            "eventTime": "2026-01-01T00:00:00Z",
        }
    ]
    answer = post(host, validation, "SubscriptionValidation")
    assert answer.status_code == 200
    assert answer.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}

    event = blob_created_event(url=eg_url, etag=eg_etag, content_length=17)
    assert post(host, [event], "Notification").status_code == 202
    cloud_event = blob_created_event(url=ce_url, etag=ce_etag, schema="CloudEvents")
    assert post(host, cloud_event, "Notification").status_code == 202
    wait_until(lambda: uploads.runs("eg.txt") and uploads.runs("ce.txt"))
    run = uploads.runs("eg.txt")[0]
    assert run["content"] == "event grid schema" and run["length"] == 17
    assert run["properties"]["ETag"] == eg_etag
    assert uploads.runs("ce.txt")[0]["content"] == "cloud events schema"
    # A blob written now is listed after both: once the watcher delivered it, it had passed them.
    uploads.upload("zz-marker.txt", b"marker")
    wait_until(lambda: uploads.runs("zz-marker.txt"), what="the marker")
    assert len(uploads.runs()) == 3  # each event once; the watcher saw nothing older


def test_webhook_refusals_and_events_it_accepts_but_drops(
    uploads: Uploads, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    host = devhost_factory(APP, env=uploads.env)
    host.start()
    missing_url = uploads.container.get_blob_client("missing.txt").url
    missing = blob_created_event(url=missing_url, etag='"0x1"')
    assert post(host, [missing], None).status_code == 400  # no aeg-event-type
    assert post(host, [missing], "Unsubscribe").status_code == 202
    bad_json = post(host, "{not json", "Notification")
    assert bad_json.status_code == 500 and "bad Event Grid payload" in bad_json.text
    no_url = post(host, [{"data": {"blobType": "BlockBlob"}}], "Notification")
    assert no_url.status_code == 500 and "no 'url'" in no_url.text
    # Accepted, as the extension accepts them, then dropped with a clear log line.
    assert post(host, [missing], "Notification", "Host.Functions.nope").status_code == 202
    assert post(host, [missing], "Notification").status_code == 202
    wait_until(lambda: "no longer exists" in host.logs() and "was not found" in host.logs())
    logs = host.logs()
    assert f"Blob '{uploads.container.container_name}/missing.txt' no longer exists" in logs
    assert "function 'Host.Functions.nope' was not found; the message is dropped" in logs
    assert "no blob-triggered function is named 'Host.Functions.nope'" in logs
    assert uploads.runs() == []


def test_the_local_watcher_delivers_new_and_changed_blobs_even_while_down(
    uploads: Uploads, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    uploads.upload("before.txt", b"existed before the first start")
    first = devhost_factory(APP, env=uploads.env)
    first.start()
    uploads.upload("w.txt", b"one")
    wait_until(lambda: uploads.runs("w.txt"))
    uploads.upload("w.txt", b"two")  # a new ETag: BlobCreated again
    wait_until(lambda: len(uploads.runs("w.txt")) == 2)
    assert first.stop() == 0
    assert "BlobCreated: " in first.logs()
    uploads.upload("while-down.txt", b"written while devhost was stopped")
    second = devhost_factory(APP, env=uploads.env)
    second.start()
    wait_until(lambda: uploads.runs("while-down.txt"))
    uploads.upload("zz-marker.txt", b"marker")  # listed last: delivered after a full scan
    wait_until(lambda: uploads.runs("zz-marker.txt"), what="the marker")
    assert [r["content"] for r in uploads.runs("w.txt")] == ["one", "two"]
    assert len(uploads.runs("while-down.txt")) == 1
    assert uploads.runs("before.txt") == []  # older than the subscription
