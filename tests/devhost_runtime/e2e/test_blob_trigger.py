"""Blob triggers on devhost with Azurite: binding data, receipts, poison and shutdown."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess, wait_until

APPS = Path(__file__).resolve().parents[2] / "apps"
APP = APPS / "blob_triggers"


def entries(journal: Path, function: str | None = None, **match: Any) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    rows = [json.loads(line) for line in journal.read_text().splitlines() if line]
    return [
        r
        for r in rows
        if (function is None or r["function"] == function)
        and all(r.get(k) == v for k, v in match.items())
    ]


class BlobRun:
    """Settings and clients for one test: its own containers, host id and journal."""

    def __init__(self, azurite: Azurite, tmp_path: Path) -> None:
        self.prefix = f"b{uuid.uuid4().hex[:8]}-"
        self.host_id = f"blobs-{self.prefix.rstrip('-')}"
        self.journal = tmp_path / "journal.jsonl"
        self.connection_string = azurite.connection_string
        self.service = BlobServiceClient.from_connection_string(azurite.connection_string)
        self.env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "BLOB_PREFIX": self.prefix,
            "BLOB_JOURNAL": str(self.journal),
            "AzureFunctionsWebHost__hostid": self.host_id,
        }

    def upload(self, container: str, name: str, data: bytes, **kwargs: Any) -> str:
        """Write a blob (creating its container); returns its ETag as the SDK gives it."""
        client = self.service.get_container_client(self.prefix + container)
        if not client.exists():
            client.create_container()
        return str(
            client.upload_blob(name, data, overwrite=True, **kwargs).get_blob_properties().etag
        )

    def entries(self, function: str | None = None, **match: Any) -> list[dict[str, Any]]:
        return entries(self.journal, function, **match)


@pytest.fixture
def run(azurite: Azurite, tmp_path: Path) -> BlobRun:
    return BlobRun(azurite, tmp_path)


def test_binding_data_for_input_stream_bytes_and_str(
    run: BlobRun, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    host = devhost_factory(APP, env=run.env)
    host.start()
    etag = run.upload("samples", "dir/a.txt", b"hello", metadata={"owner": "ann"})
    run.upload("images", "cats/tom.png", b"\x89PNG")
    run.upload("images", "readme", b"no extension: does not match {name}.{ext}")
    run.upload("texts", "greeting.txt", "héllo".encode())
    wait_until(
        lambda: run.entries("on_sample") and run.entries("on_image") and run.entries("on_text")
    )
    sample = run.entries("on_sample")[0]
    assert sample["name"] == f"{run.prefix}samples/dir/a.txt"  # container/blob, as the host sends
    assert sample["uri"].endswith(f"/devstoreaccount1/{run.prefix}samples/dir/a.txt")
    assert sample["length"] == 5 and sample["content"] == "hello"
    assert sample["metadata"] == {"owner": "ann"}
    assert sample["properties"]["ContentLength"] == 5
    assert sample["properties"]["ETag"] == etag
    assert sample["properties"]["BlobType"] == 0  # BlobType.Block, as Newtonsoft writes it
    assert run.entries("on_image") == [
        {"function": "on_image", "pid": sample["pid"], "type": "bytes", "size": 4}
    ]
    assert run.entries("on_text")[0]["type"] == "str"
    assert run.entries("on_text")[0]["content"] == "héllo"
    # Bad paths are reported, never fatal: the rest of the app is up.
    assert host.http.get(host.url("/api/alive"), timeout=10).text == "yes"
    logs = host.logs()
    assert (
        "Blob trigger 'container_token' will not run: Invalid blob trigger path "
        "'{container}/{name}'. Container paths cannot contain {resolve} tokens." in logs
    )
    assert "Blob trigger 'missing_setting' will not run:" in logs
    assert "refers to app setting 'BLOB_NOT_SET', which is not set" in logs
    assert "The parameter name 'na-me' is invalid." in logs
    assert "Blob trigger 'no_blob_name' will not run" in logs
    # Markers listed after the first blobs: once they ran, a later scan has passed those.
    run.upload("samples", "zz-marker.txt", b"marker")
    run.upload("images", "zz/marker.png", b"\x89PNG-marker")  # 11 bytes
    wait_until(
        lambda: run.entries("on_sample", content="marker") and len(run.entries("on_image")) == 2,
        what="the markers",
    )
    # Nothing ran twice; the non-matching blob never ran.
    assert [r["content"] for r in run.entries("on_sample")] == ["hello", "marker"]
    assert [r["size"] for r in run.entries("on_image")] == [4, 11]


def test_a_blob_version_runs_once_across_restarts_and_again_when_changed(
    run: BlobRun, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    first = devhost_factory(APP, env=run.env)
    first.start()
    etag = run.upload("samples", "once.txt", b"v1")
    wait_until(lambda: run.entries("on_sample", content="v1"))
    assert first.stop() == 0
    # The receipt is where the host keeps it, named by the blob's quoted ETag.
    hosts = run.service.get_container_client("azure-webjobs-hosts")
    receipt = (
        f"blobreceipts/{run.host_id}/Host.Functions.on_sample/{etag}/{run.prefix}samples/once.txt"
    )
    assert receipt in [b.name for b in hosts.list_blobs(name_starts_with="blobreceipts/")]
    assert hosts.get_blob_client(receipt).get_blob_properties().metadata == {}  # completed

    second = devhost_factory(APP, env=run.env)
    second.start()
    run.upload("samples", "marker.txt", b"marker")  # listed after once.txt, so it was scanned
    wait_until(lambda: run.entries("on_sample", content="marker"))
    assert len(run.entries("on_sample", content="v1")) == 1
    run.upload("samples", "once.txt", b"v2")  # a new ETag is a new version
    wait_until(lambda: run.entries("on_sample", content="v2"))
    run.upload("samples", "zz-after.txt", b"after")  # listed last: its run follows a full scan
    wait_until(lambda: run.entries("on_sample", content="after"))
    assert [r["content"] for r in run.entries("on_sample")] == ["v1", "marker", "v2", "after"]


def test_the_fifth_failure_puts_the_blob_on_the_poison_queue(
    run: BlobRun, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    host = devhost_factory(APP, env=run.env)
    host.start()
    etag = run.upload("poison", "bad.txt", b"cannot be processed")
    poison = QueueClient.from_connection_string(run.connection_string, "webjobs-blobtrigger-poison")

    def poisoned() -> list[dict[str, Any]]:
        try:
            texts = [base64.b64decode(m.content).decode() for m in poison.peek_messages(32)]
        except ResourceNotFoundError:
            return []  # no poison queue yet
        return [m for m in map(json.loads, texts) if m["ContainerName"] == f"{run.prefix}poison"]

    wait_until(poisoned, what="a poison message")
    assert poisoned() == [
        {
            "Type": "BlobTrigger",
            "FunctionId": "Host.Functions.always_fails",
            "BlobType": "BlockBlob",
            "ContainerName": f"{run.prefix}poison",
            "BlobName": "bad.txt",
            "ETag": etag,
        }
    ]
    assert len(run.entries("always_fails")) == 5
    # The line is logged after the poison message is sent: wait for it, not assume it.
    moved = "Message has reached MaxDequeueCount of 5. Moving message to queue"
    wait_until(lambda: moved in host.logs(), what="the poison log line")
    assert "ValueError: cannot process" in host.logs()
    # The receipt is completed (its metadata cleared), so no scan runs the blob a sixth time.
    hosts = run.service.get_container_client("azure-webjobs-hosts")
    receipt = hosts.get_blob_client(
        f"blobreceipts/{run.host_id}/Host.Functions.always_fails/{etag}/{run.prefix}poison/bad.txt"
    )
    wait_until(lambda: receipt.get_blob_properties().metadata == {}, what="a completed receipt")
    assert len(run.entries("always_fails")) == 5


@pytest.mark.slow
def test_sigterm_finishes_short_invocations_and_gives_long_ones_back(
    run: BlobRun, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    first = devhost_factory(APP, env=run.env, extra_args=["--shutdown-grace", "0.5"])
    first.start()
    run.upload("slow", "short.txt", b"0.2")
    run.upload("slow", "long.txt", b"1.5")
    wait_until(lambda: len(run.entries("slow", event="start")) == 2)
    assert first.stop() == 0
    assert "did not finish within the shutdown grace period" in first.logs()
    short = run.entries("slow", name=f"{run.prefix}slow/short.txt")
    assert [r["event"] for r in short] == ["start", "end"]

    second = devhost_factory(APP, env=run.env)
    second.start()
    assert second.process is not None
    pid = second.process.pid
    long_name = f"{run.prefix}slow/long.txt"
    wait_until(lambda: run.entries("slow", name=long_name, event="end", pid=pid), timeout=30)
    run.upload("slow", "zz-marker.txt", b"0")  # listed last: its run follows a full scan
    wait_until(lambda: run.entries("slow", name=f"{run.prefix}slow/zz-marker.txt", event="end"))
    # Nothing lost (the long one ran again); nothing completed twice (short ran once).
    assert [r["event"] for r in run.entries("slow", name=f"{run.prefix}slow/short.txt")] == [
        "start",
        "end",
    ]
    assert len(run.entries("slow", name=long_name, event="start")) == 2
