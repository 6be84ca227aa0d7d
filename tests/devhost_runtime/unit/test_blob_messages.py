"""The blob trigger queue message and queue names, in the extension's exact shapes."""

from __future__ import annotations

import pytest

from devhost.blobs.messages import (
    BlobTriggerMessage,
    InvalidMessage,
    decode,
    encode,
    host_queue_name,
)
from devhost.blobs.receipts import receipt_name


def test_message_json_round_trip_in_newtonsoft_order() -> None:
    message = BlobTriggerMessage("Host.Functions.f", "BlockBlob", "c", "a/b.txt", '"0x1"')
    text = message.to_json()
    assert text == (
        '{"Type":"BlobTrigger","FunctionId":"Host.Functions.f","BlobType":"BlockBlob",'
        '"ContainerName":"c","BlobName":"a/b.txt","ETag":"\\"0x1\\""}'
    )
    assert BlobTriggerMessage.from_json(text) == message
    # The extension also reads the track-2 spelling of the blob type.
    assert BlobTriggerMessage.from_json(text.replace("BlockBlob", "Append")).blob_type == (
        "AppendBlob"
    )


def test_queue_text_is_base64_as_the_host_writes_it() -> None:
    assert encode('{"a":"é"}') == "eyJhIjoiw6kifQ=="
    assert decode("eyJhIjoiw6kifQ==") == '{"a":"é"}'
    with pytest.raises(InvalidMessage):
        decode("{not base64}")
    with pytest.raises(InvalidMessage):
        BlobTriggerMessage.from_json('{"FunctionId": "x"}')


def test_host_queue_and_receipt_names() -> None:
    assert host_queue_name("my-app") == "azure-webjobs-blobtrigger-my-app"
    assert host_queue_name("a--b") == "azure-webjobs-blobtrigger-a-b"
    assert len(host_queue_name("x" * 40)) <= 63
    assert (
        receipt_name("my-app", "Host.Functions.f", "c", "dir/a.txt", '"0x1"')
        == 'blobreceipts/my-app/Host.Functions.f/"0x1"/c/dir/a.txt'
    )
