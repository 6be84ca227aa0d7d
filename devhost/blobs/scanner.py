"""The polling source: lists a container and queues each new blob version once (receipts)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from devhost.blobs.executor import BlobFunction
from devhost.blobs.messages import BlobTriggerMessage, blob_type_name, quoted_etag
from devhost.blobs.paths import BlobPath
from devhost.blobs.receipts import Claim, Receipts


def _common_prefix(prefixes: list[str]) -> str:
    if not prefixes:
        return ""
    first, last = min(prefixes), max(prefixes)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


class ContainerScanner:
    """One container watched by polling-source functions (blocking calls; run in a thread).

    Every blob version each function has not handled yet is offered to the receipts, which
    queue it unless a receipt says it was queued before (by this or an earlier run).
    """

    def __init__(
        self,
        container_client: Any,
        functions: list[BlobFunction],
        receipts: Receipts,
        enqueue: Callable[[BlobTriggerMessage], None],
        log: logging.Logger,
    ) -> None:
        self.container: str = container_client.container_name
        self._client = container_client
        self._functions = functions
        self._receipts = receipts
        self._enqueue = enqueue
        self._log = log
        self._prefix = _common_prefix([f.pattern.prefix for f in functions])
        # (function id, blob name) -> the ETag already handled, so a poll only looks at changes.
        self._handled: dict[tuple[str, str], str] = {}

    def scan(self) -> int:
        """List the container once; returns how many messages were queued."""
        try:
            items = list(self._client.list_blobs(name_starts_with=self._prefix or None))
        except ResourceNotFoundError:
            return 0  # no container yet: nothing to process
        queued = 0
        listed: set[str] = set()
        for item in items:
            listed.add(item.name)
            etag = quoted_etag(str(item.etag))
            for target in self._functions:
                if self._offer(target, item, etag):
                    queued += 1
        self._handled = {k: v for k, v in self._handled.items() if k[1] in listed}
        return queued

    def _offer(self, target: BlobFunction, item: Any, etag: str) -> bool:
        key = (target.function_id, item.name)
        if self._handled.get(key) == etag:
            return False
        path = BlobPath(self.container, item.name)
        if target.pattern.match(path) is None:
            self._handled[key] = etag
            return False
        message = BlobTriggerMessage(
            function_id=target.function_id,
            blob_type=blob_type_name(str(getattr(item.blob_type, "value", item.blob_type))),
            container=self.container,
            blob=item.name,
            etag=etag,
        )
        claim = self._receipts.claim(
            target.function_id, self.container, item.name, etag, lambda: self._enqueue(message)
        )
        if claim is Claim.BUSY:
            return False  # another host is queueing it; look again on the next poll
        self._handled[key] = etag
        if claim is Claim.QUEUED:
            self._log.info("New blob detected: '%s' (ETag %s) for '%s'", path, etag, target.fn.name)
            return True
        self._log.debug(
            "Blob '%s' (ETag %s) was already processed by '%s'", path, etag, target.fn.name
        )
        return False
