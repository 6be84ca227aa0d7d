"""Report files and blob retention: `reports/<day>.json|csv`, and paged listing for clean-up.

A rerun for a day overwrites the same two blobs with the same bytes; listing is one page per
call (with the service's continuation token), so a container of any size is swept in steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

_JSON = ContentSettings(content_type="application/json")
_CSV = ContentSettings(content_type="text/csv; charset=utf-8")


@dataclass(frozen=True)
class BlobEntry:
    name: str
    last_modified: datetime


@dataclass(frozen=True)
class BlobPage:
    """One listing page and the token of the next (None after the last page)."""

    entries: list[BlobEntry]
    next_token: str | None


class BlobSweeper:
    """Lists a container page by page and deletes named blobs; deleting twice is no error."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    def page(self, prefix: str | None, token: str | None, size: int) -> BlobPage:
        pages = self._container.list_blobs(name_starts_with=prefix, results_per_page=size).by_page(
            continuation_token=token
        )
        try:
            blobs = next(pages)
        except (StopIteration, ResourceNotFoundError):
            return BlobPage([], None)
        entries = [BlobEntry(b.name, b.last_modified) for b in blobs]
        return BlobPage(entries, pages.continuation_token or None)

    def delete(self, names: Iterable[str]) -> int:
        """Delete each blob; returns how many existed."""
        deleted = 0
        for name in names:
            with suppress(ResourceNotFoundError):
                self._container.delete_blob(name)
                deleted += 1
        return deleted


class ReportStore:
    """The nightly report's two files per day in their own container."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self.sweeper = BlobSweeper(container)

    def put(self, day: str, json_body: bytes, csv_body: bytes) -> list[str]:
        """Write (or overwrite with identical bytes) `<day>.json` and `<day>.csv`."""
        names = [f"{day}.json", f"{day}.csv"]
        self._container.upload_blob(names[0], json_body, overwrite=True, content_settings=_JSON)
        self._container.upload_blob(names[1], csv_body, overwrite=True, content_settings=_CSV)
        return [f"{self._container.container_name}/{name}" for name in names]

    def exists(self, day: str) -> bool:
        """True once a run for `day` has written its report (the JSON is written first)."""
        try:
            return bool(self._container.get_blob_client(f"{day}.json").exists())
        except ResourceNotFoundError:
            return False

    def read(self, name: str) -> bytes:
        return self._container.download_blob(name).readall()
