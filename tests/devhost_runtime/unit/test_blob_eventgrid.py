"""The Event Grid side of the blob trigger: handshakes, event shapes and blob URLs."""

from __future__ import annotations

import json

import pytest

from devhost.blobs.eventgrid import (
    EventError,
    blob_created_event,
    blob_path_from_url,
    message_for,
    parse_events,
    validation_code,
)
from devhost.blobs.messages import BlobTriggerMessage
from devhost.blobs.paths import BlobPath


def test_blob_urls_in_azure_and_on_the_emulator() -> None:
    assert blob_path_from_url(
        "https://acct.blob.core.windows.net/images/cats/tom%20cat.png"
    ) == BlobPath("images", "cats/tom cat.png")
    assert blob_path_from_url("http://127.0.0.1:10000/devstoreaccount1/images/a.png") == BlobPath(
        "images", "a.png"
    )
    assert blob_path_from_url("http://localhost:52000/devstoreaccount1/images/a.png") == BlobPath(
        "images", "a.png"
    )
    with pytest.raises(EventError):
        blob_path_from_url("not a url")


def test_validation_codes_in_both_schemas() -> None:
    event_grid = [{"data": {"validationCode": "512d38b6", "validationUrl": "https://x"}}]
    assert validation_code(json.dumps(event_grid)) == "512d38b6"
    cloud_event = {"data": json.dumps({"validationCode": "abc"})}  # double-encoded data
    assert validation_code(json.dumps(cloud_event)) == "abc"
    assert validation_code(json.dumps({"data": {"validationCode": "xyz"}})) == "xyz"
    with pytest.raises(EventError):
        validation_code("[]")


@pytest.mark.parametrize("schema", ["EventGrid", "CloudEvents"])
def test_a_blob_created_event_becomes_the_extensions_message(schema: str) -> None:
    event = blob_created_event(
        url="https://acct.blob.core.windows.net/uploads/dir/a.txt",
        etag='"0x8D4BCC2E4835CD0"',
        content_length=5,
        schema=schema,
    )
    assert event["data"]["eTag"] == "0x8D4BCC2E4835CD0"  # Event Grid sends it unquoted
    message = message_for(event, "Host.Functions.on_upload")
    assert message == BlobTriggerMessage(
        "Host.Functions.on_upload", "BlockBlob", "uploads", "dir/a.txt", '"0x8D4BCC2E4835CD0"'
    )
    assert json.loads(message.to_json()) == {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.on_upload",
        "BlobType": "BlockBlob",
        "ContainerName": "uploads",
        "BlobName": "dir/a.txt",
        "ETag": '"0x8D4BCC2E4835CD0"',
    }


def test_payloads_the_extension_cannot_read() -> None:
    assert len(parse_events('{"data": {}}')) == 1
    assert len(parse_events("[{}, {}]")) == 2
    for body in ("not json", "42"):
        with pytest.raises(EventError):
            parse_events(body)
    for event in ({}, {"data": {"blobType": "BlockBlob"}}, {"data": {"url": "https://a.b/c/d"}}):
        with pytest.raises(EventError):
            message_for(event, "Host.Functions.f")
