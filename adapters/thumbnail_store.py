"""The uploads and thumbnails containers: read one exact upload version, write thumbnails safely.

Reads are If-Match the job's ETag. A thumbnail records its source's ETag and SHA-256, is not
written again for the same version, and is written only over the thumbnail just seen and while
the source is still this version, so a slow job never overwrites a newer version's thumbnail
(docs/thumbnails.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobProperties, ContainerClient, ContentSettings

from adapters.faults import FaultHook, no_fault
from adapters.images import Rendered
from domain.failures import TransientFailure
from domain.images import ImageLimits, check_size

logger = logging.getLogger(__name__)

UPLOADS_CONTAINER = "uploads"
THUMBNAILS_CONTAINER = "thumbnails"
SOURCE_ETAG = "source_etag"
SHA256 = "sha256"


class SourceChanged(Exception):
    """The upload is no longer the version the job was started for (rewritten or deleted)."""


@dataclass(frozen=True)
class WriteResult:
    """`written` False: the same thumbnail of this version was already there."""

    written: bool


class ThumbnailStore:
    """Reads uploads and writes thumbnails; `fault` lets tests crash right after a write."""

    MAX_ATTEMPTS = 5

    def __init__(
        self, uploads: ContainerClient, thumbnails: ContainerClient, *, fault: FaultHook = no_fault
    ) -> None:
        self._uploads, self._thumbnails, self._fault = uploads, thumbnails, fault

    def read_source(self, name: str, etag: str, limits: ImageLimits) -> bytes:
        """The upload's bytes at exactly `etag`; its stored size is checked before downloading.

        Raises SourceChanged for another version or none, ImageRejected when too large.
        """
        blob = self._uploads.get_blob_client(name)
        try:
            properties = blob.get_blob_properties()
            if properties.etag != etag:
                raise SourceChanged(f"the upload is now version {properties.etag}, not {etag}")
            check_size(properties.size, limits)
            stream = blob.download_blob(
                etag=etag, match_condition=MatchConditions.IfNotModified, max_concurrency=1
            )
            data = stream.readall()
        except ResourceNotFoundError as error:
            raise SourceChanged("the upload was deleted") from error
        except ResourceModifiedError as error:
            raise SourceChanged("the upload was rewritten while it was read") from error
        check_size(len(data), limits)  # what was stored, whatever the properties said
        return data

    def source_etag(self, name: str) -> str | None:
        """The upload's current ETag, None once it is deleted."""
        try:
            return str(self._uploads.get_blob_client(name).get_blob_properties().etag)
        except ResourceNotFoundError:
            return None

    def write_thumbnail(
        self, blob_name: str, rendered: Rendered, source_name: str, source_etag: str
    ) -> WriteResult:
        """Write one thumbnail of version `source_etag` unless it is there already.

        Raises SourceChanged when the upload is no longer that version (the newer version's
        job writes its own thumbnail), TransientFailure when writers kept racing.
        """
        blob = self._thumbnails.get_blob_client(blob_name)
        metadata = {SOURCE_ETAG: source_etag, SHA256: rendered.sha256}
        for _ in range(self.MAX_ATTEMPTS):
            current = self._properties(blob_name)
            if current is not None and _same(current.metadata, metadata):
                return WriteResult(written=False)
            # Checked after reading the thumbnail: a newer version's write that came after this
            # check changes the thumbnail's ETag, and the conditional write below fails.
            if self.source_etag(source_name) != source_etag:
                raise SourceChanged("a newer version of the upload exists, or it was deleted")
            # Replace exactly the thumbnail just read, or create it only if there is none.
            condition: dict[str, Any] = (
                {"overwrite": True, "etag": current.etag}
                | {"match_condition": MatchConditions.IfNotModified}
                if current is not None
                else {"overwrite": False}
            )
            try:
                blob.upload_blob(
                    rendered.data,
                    content_settings=ContentSettings(content_type=rendered.content_type),
                    metadata=metadata,
                    max_concurrency=1,
                    **condition,
                )
            except (ResourceModifiedError, ResourceExistsError):
                logger.info(
                    "Thumbnail %s changed while it was written; reading it again", blob_name
                )
                continue
            self._fault("thumbnails.written")
            return WriteResult(written=True)
        raise TransientFailure(f"thumbnail {blob_name}: writers kept racing for it")

    def _properties(self, blob_name: str) -> BlobProperties | None:
        try:
            return self._thumbnails.get_blob_client(blob_name).get_blob_properties()
        except ResourceNotFoundError:
            return None


def _same(found: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    found = found or {}
    return all(found.get(key) == value for key, value in wanted.items())
