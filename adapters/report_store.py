"""Report files and blob retention: `reports/<day>.json|csv`, and paged listing for clean-up.

Report names are deterministic and written with overwrite, so a rerun for a day replaces the
same two blobs with the same bytes. Listing is one page per call with the service's
continuation token, so a container of any size is swept in bounded steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

import app_config
from adapters.factory import blob_service, table_service
from adapters.order_store import OrderStore
from app_config import OrderStorageNames, StorageConnection

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

    @property
    def container_name(self) -> str:
        return self._container.container_name

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

    def ensure(self) -> None:
        with suppress(ResourceExistsError):
            self._container.create_container()  # private: no public access level is set

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


@dataclass(frozen=True)
class ReportAdapters:
    """Everything the report and retention activities touch."""

    orders: OrderStore
    reports: ReportStore
    claims: BlobSweeper


def build_report_adapters(
    connection: StorageConnection,
    names: OrderStorageNames,
    reports_container: str,
    *,
    table_uri: str | None = None,
) -> ReportAdapters:
    tables = table_service(connection, table_uri)
    blobs = blob_service(connection)
    reports = ReportStore(blobs.get_container_client(reports_container))
    reports.ensure()
    return ReportAdapters(
        orders=OrderStore(tables.create_table_if_not_exists(names.orders_table)),
        reports=reports,
        claims=BlobSweeper(blobs.get_container_client(names.claim_check_container)),
    )


@lru_cache(maxsize=1)
def report_adapters() -> ReportAdapters:
    """The app's report adapters, built on first use from the environment and shared."""
    return build_report_adapters(
        app_config.storage_connection(),
        app_config.order_storage_names(),
        app_config.reports_container(),
        table_uri=app_config.table_service_uri(),
    )
