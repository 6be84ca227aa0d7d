"""What a blob-triggered function receives: the blob as a datum and the host's binding data."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta

from devhost.blobs.messages import blob_type_name, quoted_etag
from devhost.blobs.paths import BlobPath
from devhost.indexing import IndexedFunction

# Numeric values of the .NET enums, which Newtonsoft writes as numbers.
_BLOB_TYPE = {"BlockBlob": 0, "PageBlob": 1, "AppendBlob": 2}
_LEASE_STATE = {"available": 0, "leased": 1, "expired": 2, "breaking": 3, "broken": 4}
_LEASE_STATUS = {"locked": 0, "unlocked": 1}
_LEASE_DURATION = {"infinite": 0, "fixed": 1}
_COPY_STATUS = {"pending": 0, "success": 1, "aborted": 2, "failed": 3}


def wants_text(fn: IndexedFunction) -> bool:
    """True when the worker would ask the host for a string (a `str` parameter or dataType)."""
    trigger = fn.trigger
    declared = str(trigger.get("dataType") or "").lower()
    if declared in ("string", "binary", "stream"):
        return declared == "string"
    return fn.type_hints.get(trigger["name"]) is str


def blob_datum(content: bytes, as_text: bool) -> meta.Datum:
    if as_text:
        return meta.Datum(content.decode("utf-8", errors="replace"), "string")
    return meta.Datum(content, "bytes")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _enum(table: Mapping[str, int], value: Any, default: int | None = 0) -> int | None:
    if value is None:
        return default
    key = str(getattr(value, "value", value)).lower()
    return table.get(key, default)


def properties_json(props: Any) -> dict[str, Any]:
    """The azure-storage-blob BlobProperties in the shape the host serializes them."""
    settings = props.content_settings
    lease = props.lease
    copy = props.copy
    md5 = getattr(settings, "content_md5", None)
    tier = getattr(props, "blob_tier", None)
    blob_type = props.blob_type or "BlockBlob"
    return {
        "LastModified": _iso(props.last_modified),
        "CreatedOn": _iso(props.creation_time),
        "Metadata": dict(props.metadata or {}),
        "BlobType": _BLOB_TYPE[blob_type_name(str(getattr(blob_type, "value", blob_type)))],
        "CopyCompletedOn": _iso(getattr(copy, "completion_time", None))
        or "0001-01-01T00:00:00+00:00",
        "CopyStatusDescription": getattr(copy, "status_description", None),
        "CopyId": getattr(copy, "id", None),
        "CopyProgress": getattr(copy, "progress", None),
        "CopySource": getattr(copy, "source", None),
        "CopyStatus": _enum(_COPY_STATUS, getattr(copy, "status", None)),
        "IsIncrementalCopy": bool(getattr(copy, "incremental_copy", False)),
        "LeaseDuration": _enum(_LEASE_DURATION, getattr(lease, "duration", None)),
        "LeaseState": _enum(_LEASE_STATE, getattr(lease, "state", None)),
        "LeaseStatus": _enum(_LEASE_STATUS, getattr(lease, "status", None), 1),
        "ContentLength": int(props.size or 0),
        "ContentType": settings.content_type,
        "ETag": quoted_etag(str(props.etag)),
        "ContentHash": base64.b64encode(bytes(md5)).decode("ascii") if md5 else None,
        "ContentEncoding": settings.content_encoding,
        "ContentDisposition": settings.content_disposition,
        "ContentLanguage": settings.content_language,
        "CacheControl": settings.cache_control,
        "BlobSequenceNumber": int(getattr(props, "page_blob_sequence_number", 0) or 0),
        "AcceptRanges": "bytes",
        "BlobCommittedBlockCount": int(getattr(props, "append_blob_committed_block_count", 0) or 0),
        "IsServerEncrypted": bool(getattr(props, "server_encrypted", False)),
        "EncryptionScope": getattr(props, "encryption_scope", None),
        "AccessTier": str(getattr(tier, "value", tier)) if tier else None,
        "AccessTierInferred": bool(getattr(props, "blob_tier_inferred", False)),
        "VersionId": getattr(props, "version_id", None),
        "IsLatestVersion": bool(getattr(props, "is_current_version", False)),
        "TagCount": int(getattr(props, "tag_count", 0) or 0),
        "LastAccessed": _iso(getattr(props, "last_accessed_on", None)),
        "HasLegalHold": bool(getattr(props, "has_legal_hold", False)),
    }


def trigger_metadata(
    fn: IndexedFunction,
    path: BlobPath,
    uri: str,
    properties: dict[str, Any],
    bound: Mapping[str, str],
) -> dict[str, meta.Datum]:
    """The binding data the host sends with a blob trigger invocation.

    The host sends the blob's content (bytes, or a string for a `str` parameter), and the binding
    data `BlobTrigger` (`container/blob`), `Uri`, `Properties` (the .NET `BlobProperties` as JSON:
    its field names, enums as numbers), `Metadata` and every path parameter, which
    `func.InputStream` reads as `name`, `uri`, `length`, `blob_properties` and `metadata`.
    """
    data: dict[str, meta.Datum] = {
        "BlobTrigger": meta.Datum(str(path), "string"),
        "Uri": meta.Datum(uri, "string"),
        "Properties": meta.Datum(json.dumps(properties), "json"),
        "Metadata": meta.Datum(json.dumps(properties.get("Metadata") or {}), "json"),
    }
    for name, value in bound.items():
        # Path parameters override the built-in names, compared case-insensitively.
        for key in [k for k in data if k.lower() == name.lower()]:
            del data[key]
        data[name] = meta.Datum(value, "string")
    data["sys"] = meta.Datum(
        json.dumps(
            {
                "MethodName": fn.name,
                "UtcNow": datetime.now(UTC).isoformat(),
                "RandGuid": str(uuid.uuid4()),
            }
        ),
        "json",
    )
    return data
