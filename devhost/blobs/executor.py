"""Runs the blob-triggered function named by one queued message, as the extension does."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, ResourceNotFoundError

from devhost.blobs.errors import describe
from devhost.blobs.inputstream import blob_datum, properties_json, trigger_metadata, wants_text
from devhost.blobs.messages import BlobTriggerMessage, quoted_etag
from devhost.blobs.paths import BlobPath, BlobPathPattern
from devhost.indexing import IndexedFunction
from devhost.invoker import FunctionInvocationError
from devhost.triggers.base import TriggerContext

T = TypeVar("T")
BlockingCall = Callable[..., Awaitable[Any]]


@dataclass
class BlobFunction:
    """One blob-triggered function with its resolved path and storage clients."""

    fn: IndexedFunction
    pattern: BlobPathPattern
    event_grid: bool
    connection: str
    blob_service: Any
    queue_service: Any  # where its poison queue lives: the blob's own account

    @property
    def function_id(self) -> str:
        return function_id_for(self.fn.name)


def function_id_for(name: str) -> str:
    """The id the host gives a function (`Host.Functions.<name>`), used in URLs and messages."""
    return f"Host.Functions.{name}"


class Result(enum.Enum):
    COMPLETE = "complete"  # delete the message
    FAILED = "failed"  # leave it to be retried (or poisoned)


class BlobExecutor:
    """Turns one blob trigger message into one invocation.

    A message for a function that is not (or no longer) registered, or for a blob that no longer
    exists, is dropped with a log line (the extension counts both as done). A polling-source
    message whose blob has a new ETag is dropped too: the scan queues the new version. An error
    reading the blob, or from the function, fails the attempt: the queue retries it and, after
    maxDequeueCount attempts, moves it to the poison queue.
    """

    def __init__(
        self,
        context: TriggerContext,
        functions: dict[str, BlobFunction],
        blocking: BlockingCall,
        log: logging.Logger,
    ) -> None:
        self._context = context
        self._functions = functions
        self._blocking = blocking
        self._log = log

    async def run(self, message: BlobTriggerMessage, attempt: int) -> Result:
        if message.function_id is None:
            self._log.error("Blob trigger message without a function id: %s", message.to_json())
            return Result.FAILED
        target = self._functions.get(message.function_id)
        path = BlobPath(message.container, message.blob)
        if target is None:
            self._log.warning(
                "Blob '%s': function '%s' was not found; the message is dropped",
                path,
                message.function_id,
            )
            return Result.COMPLETE
        blob = target.blob_service.get_blob_client(path.container, path.blob)
        try:
            props = await self._blocking(blob.get_blob_properties)
        except ResourceNotFoundError:
            self._log.info("Blob '%s' no longer exists; '%s' is not run", path, target.fn.name)
            return Result.COMPLETE
        except AzureError as exc:
            self._log.error(
                "Blob '%s' could not be read for '%s': %s", path, target.fn.name, describe(exc)
            )
            return Result.FAILED
        if not target.event_grid and quoted_etag(str(props.etag)) != message.etag:
            self._log.debug("Blob '%s' changed since it was queued; the scan queues it again", path)
            return Result.COMPLETE
        bound = target.pattern.match(path)
        if bound is None:
            self._log.info(
                "Blob '%s' does not match '%s'; '%s' runs without path parameters, as the "
                "host does for Event Grid events",
                path,
                target.pattern,
                target.fn.name,
            )
            bound = {}
        try:
            content = await self._blocking(lambda: blob.download_blob().readall())
        except ResourceNotFoundError:
            self._log.info(
                "Blob '%s' was deleted before it could be read; '%s' is not run",
                path,
                target.fn.name,
            )
            return Result.COMPLETE
        except AzureError as exc:
            self._log.error(
                "Blob '%s' could not be read for '%s': %s", path, target.fn.name, describe(exc)
            )
            return Result.FAILED
        self._log.info(
            "Blob '%s' (ETag %s): running '%s' (attempt %d)",
            path,
            quoted_etag(str(props.etag)),
            target.fn.name,
            attempt,
        )
        metadata = trigger_metadata(target.fn, path, blob.url, properties_json(props), bound)
        try:
            await self._context.invoke(
                target.fn, blob_datum(content, wants_text(target.fn)), metadata
            )
        except FunctionInvocationError:
            return Result.FAILED  # the invoker logged the traceback
        except Exception:
            self._log.exception("Blob '%s': '%s' could not be invoked", path, target.fn.name)
            return Result.FAILED
        return Result.COMPLETE
