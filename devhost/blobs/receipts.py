"""Blob receipts: one blob per function and blob version, so each version is queued once."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

HOSTS_CONTAINER = "azure-webjobs-hosts"
RECEIPTS_DIRECTORY = "blobreceipts"
INCOMPLETE = "Incomplete"
LEASE_SECONDS = 30


class Claim(enum.Enum):
    """What happened when a blob version was offered for queueing."""

    QUEUED = "queued"
    ALREADY_PROCESSED = "already processed"
    BUSY = "busy"  # another host holds the receipt right now: try again on a later poll


def receipt_name(host_id: str, function_id: str, container: str, blob: str, etag: str) -> str:
    # The ETag goes before the blob name, which may itself contain slashes.
    return f"{RECEIPTS_DIRECTORY}/{host_id}/{function_id}/{etag}/{container}/{blob}"


class Receipts:
    """Receipts in the host storage account (blocking calls).

    As in the extension, the receipt `azure-webjobs-hosts/blobreceipts/<host id>/<function id>/
    <ETag>/<container>/<blob>` is created incomplete (metadata `Incomplete`), leased, the blob's
    message queued, and the receipt marked complete: a version is queued once, across restarts
    and hosts. Retries and poison then happen on the queue, not here.
    """

    def __init__(self, host_blob_service: Any, host_id: str) -> None:
        self._container = host_blob_service.get_container_client(HOSTS_CONTAINER)
        self.host_id = host_id

    def _client(self, function_id: str, container: str, blob: str, etag: str) -> Any:
        name = receipt_name(self.host_id, function_id, container, blob, etag)
        return self._container.get_blob_client(name)

    def is_completed(self, function_id: str, container: str, blob: str, etag: str) -> bool:
        state = self._read(self._client(function_id, container, blob, etag))
        return state is True

    @staticmethod
    def _read(receipt: Any) -> bool | None:
        """True if completed, False if incomplete, None if there is no receipt."""
        try:
            metadata = receipt.get_blob_properties().metadata or {}
        except ResourceNotFoundError:
            return None
        return INCOMPLETE not in metadata

    def _create_incomplete(self, receipt: Any) -> bool:
        for attempt in range(2):
            try:
                receipt.upload_blob(
                    b"",
                    metadata={INCOMPLETE: INCOMPLETE},
                    match_condition=MatchConditions.IfMissing,
                )
                return True
            except ResourceNotFoundError:
                if attempt:
                    raise
                with contextlib.suppress(ResourceExistsError):
                    self._container.create_container()
            except HttpResponseError as exc:
                if exc.status_code in (409, 412):  # created, or leased, by someone else
                    return False
                raise
        return False

    def claim(
        self,
        function_id: str,
        container: str,
        blob: str,
        etag: str,
        enqueue: Callable[[], None],
    ) -> Claim:
        """Queue the blob version through `enqueue` unless its receipt says it was already."""
        receipt = self._client(function_id, container, blob, etag)
        state = self._read(receipt)
        if state is True:
            return Claim.ALREADY_PROCESSED
        if state is None and not self._create_incomplete(receipt):
            return Claim.BUSY
        try:
            lease = receipt.acquire_lease(lease_duration=LEASE_SECONDS)
        except HttpResponseError as exc:
            if exc.status_code in (404, 409):
                return Claim.BUSY
            raise
        try:
            if self._read(receipt) is True:
                return Claim.ALREADY_PROCESSED
            enqueue()
            try:
                receipt.set_blob_metadata({}, lease=lease)
            except HttpResponseError as exc:
                if exc.status_code not in (404, 412):  # receipt deleted, or lease lost
                    raise
            return Claim.QUEUED
        finally:
            with contextlib.suppress(HttpResponseError):
                lease.release()
