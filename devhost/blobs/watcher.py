"""A local change feed on Azurite: new or changed blobs become Event Grid BlobCreated events."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from devhost.blobs.eventgrid import blob_created_event, message_for
from devhost.blobs.executor import BlobFunction
from devhost.blobs.messages import BlobTriggerMessage, blob_type_name, quoted_etag
from devhost.blobs.paths import BlobPath

SNAPSHOT_DIRECTORY = "devhost-blobwatch"
LOCK_SECONDS = 15
RENEW_AFTER = 5.0


class ContainerWatcher:
    """One container watched for `source=EventGrid` functions (blocking calls; run in a thread).

    It stands in for the Event Grid subscription of `source=EventGrid` functions (Core Tools has
    none: there only the webhook triggers them). Like a subscription, it reports changes made after
    it was first created: the first start records what the container holds, and from then on
    every new ETag becomes one BlobCreated event, including changes made while devhost was down
    (Event Grid retries deliveries for 24 hours). The snapshot lives in the host storage account
    and one host at a time watches a container (a blob lease), so two devhosts on one storage
    account do not both deliver an event.
    """

    def __init__(
        self,
        container_client: Any,
        functions: list[BlobFunction],
        hosts_container: Any,
        host_id: str,
        connection: str,
        enqueue: Callable[[BlobTriggerMessage], None],
        log: logging.Logger,
    ) -> None:
        self.container: str = container_client.container_name
        self._client = container_client
        self._functions = functions
        self._hosts = hosts_container
        where = f"{host_id}/{connection}/{self.container}"
        self._snapshot = hosts_container.get_blob_client(f"{SNAPSHOT_DIRECTORY}/{where}.json")
        self._lock = hosts_container.get_blob_client(f"locks/{where.replace('/', '.')}.blobwatch")
        self._lease: Any = None
        self._renewed = 0.0
        self._known: dict[str, str] | None = None
        self._enqueue = enqueue
        self._log = log

    def _holds_lock(self) -> bool:
        try:
            if self._lease is None:
                with contextlib.suppress(ResourceExistsError):
                    self._hosts.create_container()
                with contextlib.suppress(ResourceExistsError):
                    self._lock.upload_blob(b"", overwrite=False)
                self._lease = self._lock.acquire_lease(lease_duration=LOCK_SECONDS)
                self._known = None  # another host may have moved the snapshot on
            elif time.monotonic() - self._renewed > RENEW_AFTER:
                self._lease.renew()
            else:
                return True
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                self._lease = None
                return False
            raise
        self._renewed = time.monotonic()
        return True

    def release(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(HttpResponseError):
                self._lease.release()
            self._lease = None

    def _load(self) -> dict[str, str] | None:
        try:
            return dict(json.loads(self._snapshot.download_blob().readall()))
        except ResourceNotFoundError:
            return None

    def _save(self, etags: dict[str, str]) -> None:
        self._snapshot.upload_blob(json.dumps(etags), overwrite=True)

    def poll(self) -> int:
        """Compare the listing with the snapshot; returns how many messages were queued."""
        if not self._holds_lock():
            return 0
        if self._known is None:
            self._known = self._load()
        try:
            items = {item.name: item for item in self._client.list_blobs()}
        except ResourceNotFoundError:
            items = {}
        current = {name: quoted_etag(str(item.etag)) for name, item in items.items()}
        if self._known is None:
            self._save(current)  # the subscription starts now
            self._known = current
            self._log.info("Watching container '%s' for BlobCreated events", self.container)
            return 0
        queued = 0
        for name, etag in current.items():
            if self._known.get(name) != etag:
                queued += self._deliver(items[name], etag)
        if current != self._known:
            self._save(current)
            self._known = current
        return queued

    def _deliver(self, item: Any, etag: str) -> int:
        """One BlobCreated event, handed to each function whose path it matches."""
        url = self._client.get_blob_client(item.name).url
        event = blob_created_event(
            url=url,
            etag=etag,
            content_type=item.content_settings.content_type,
            content_length=int(item.size or 0),
            blob_type=blob_type_name(str(getattr(item.blob_type, "value", item.blob_type))),
        )
        path = BlobPath(self.container, item.name)
        delivered = 0
        for target in self._functions:
            if target.pattern.match(path) is None:
                continue
            self._enqueue(message_for(event, target.function_id))
            self._log.info(
                "BlobCreated: '%s' (ETag %s) delivered to '%s'", path, etag, target.fn.name
            )
            delivered += 1
        return delivered
