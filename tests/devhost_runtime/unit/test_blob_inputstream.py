"""What a blob-triggered function receives, decoded by the azure-functions library itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
from azure.storage.blob import BlobProperties, ContentSettings

from devhost.blobs.inputstream import blob_datum, properties_json, trigger_metadata, wants_text
from devhost.blobs.paths import BlobPath
from devhost.indexing import IndexedFunction
from devhost.invoker import converter_for


def _function(annotation: Any, data_type: str | None = None) -> IndexedFunction:
    trigger: dict[str, Any] = {"type": "blobTrigger", "name": "blob", "direction": "IN"}
    if data_type:
        trigger["dataType"] = data_type
    return IndexedFunction(
        name="on_image",
        function_id="x",
        user_function=lambda blob: None,
        bindings=[trigger],
        type_hints={"blob": annotation},
        wants_context=False,
        is_async=False,
    )


def _properties() -> BlobProperties:
    props = BlobProperties()
    props.size = 5
    props.etag = '"0x8D1"'
    props.blob_type = "BlockBlob"
    props.metadata = {"owner": "ann"}
    props.last_modified = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    props.creation_time = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    props.content_settings = ContentSettings(content_type="image/png")
    return props


def test_input_stream_gets_name_uri_length_metadata_and_properties() -> None:
    fn = _function(func.InputStream)
    path = BlobPath("images", "cats/tom.png")
    props = properties_json(_properties())
    metadata = trigger_metadata(
        fn,
        path,
        "http://127.0.0.1:10000/devstoreaccount1/images/cats/tom.png",
        props,
        {"category": "cats", "name": "tom", "ext": "png"},
    )
    converter = converter_for("blobTrigger", func.InputStream)
    stream = converter.decode(blob_datum(b"hello", False), trigger_metadata=metadata)
    assert isinstance(stream, func.InputStream)
    assert stream.read() == b"hello"
    assert stream.name == "images/cats/tom.png"
    assert stream.uri.endswith("/images/cats/tom.png")
    assert stream.length == 5
    assert stream.metadata == {"owner": "ann"}
    assert stream.blob_properties["ContentType"] == "image/png"
    assert stream.blob_properties["BlobType"] == 0
    assert stream.blob_properties["ETag"] == '"0x8D1"'
    assert stream.blob_properties["LastModified"] == "2026-01-02T03:04:05+00:00"
    # Path parameters travel as string binding data, as the host sends them.
    assert metadata["category"].value == "cats" and metadata["ext"].type == "string"
    assert json.loads(metadata["sys"].value)["MethodName"] == "on_image"


def test_path_parameters_override_built_in_names() -> None:
    metadata = trigger_metadata(
        _function(func.InputStream),
        BlobPath("c", "x"),
        "u",
        properties_json(_properties()),
        {"uri": "from-path"},
    )
    assert "Uri" not in metadata and metadata["uri"].value == "from-path"


def test_str_and_bytes_parameters_get_the_raw_content() -> None:
    assert wants_text(_function(str)) and not wants_text(_function(bytes))
    assert wants_text(_function(func.InputStream, "STRING"))
    text = converter_for("blobTrigger", str).decode(
        blob_datum("héllo".encode(), True), trigger_metadata={}
    )
    assert text == "héllo"
    raw = converter_for("blobTrigger", bytes).decode(
        blob_datum(b"\x89PNG", False), trigger_metadata={}
    )
    assert raw == b"\x89PNG"
