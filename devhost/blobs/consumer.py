"""Consumes the host's blob trigger queue: concurrency, retries and the poison queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from devhost.blobs.errors import describe
from devhost.blobs.executor import BlobExecutor, BlockingCall, Result
from devhost.blobs.messages import BlobTriggerMessage, HostQueue, InvalidMessage, Received, decode

INVISIBLE_SECONDS = 30
RENEW_EVERY = 10.0
IDLE_MAX_SECONDS = 1.0
IDLE_MIN_SECONDS = 0.05


def _timespan_seconds(value: Any, default: float) -> float:
    """A host.json TimeSpan ("hh:mm:ss") in seconds."""
    if value is None:
        return default
    text = str(value).strip()
    days = 0
    if "." in text.split(":")[0]:
        day_text, text = text.split(".", 1)
        days = int(day_text)
    parts = [float(p) for p in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    hours, minutes, seconds = parts
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class QueueOptions:
    """host.json `extensions.queues`, which the blob trigger's internal queue follows."""

    max_dequeue_count: int = 5
    batch_size: int = 16
    # The extension's default is batchSize / 2 per processor (QueuesOptions).
    new_batch_threshold: int = 8 * (os.cpu_count() or 1)
    visibility_timeout: float = 0.0

    @classmethod
    def from_host_json(cls, raw: dict[str, Any]) -> QueueOptions:
        queues = (raw.get("extensions") or {}).get("queues") or {}
        batch = int(queues.get("batchSize", 16))
        if not 1 <= batch <= 32:
            raise ValueError(f"host.json extensions.queues.batchSize must be 1-32, got {batch}")
        dequeue = int(queues.get("maxDequeueCount", 5))
        if dequeue < 1:
            raise ValueError("host.json extensions.queues.maxDequeueCount must be at least 1")
        return cls(
            max_dequeue_count=dequeue,
            batch_size=batch,
            new_batch_threshold=int(
                queues.get("newBatchThreshold", (batch // 2) * (os.cpu_count() or 1))
            ),
            visibility_timeout=_timespan_seconds(queues.get("visibilityTimeout"), 0.0),
        )


@dataclass
class _InFlight:
    received: Received
    message: BlobTriggerMessage | None = None
    abandoned: bool = False


class QueueConsumer:
    """Receives blob trigger messages and settles each after its invocation.

    As the host's queue listener: batches of `batchSize` messages, a new batch once no more than
    `newBatchThreshold` are in flight; a failed attempt makes the message visible again after
    `visibilityTimeout` (default 0); the attempt that reaches `maxDequeueCount` (default 5) copies
    the message to `webjobs-blobtrigger-poison` and deletes it. A message is invisible while its
    function runs (renewed every 10 s), so a devhost killed mid-invocation sees it again 30 s later.
    """

    def __init__(
        self,
        queue: HostQueue,
        executor: BlobExecutor,
        poison_queue_for: Callable[[BlobTriggerMessage | None], HostQueue],
        options: QueueOptions,
        blocking: BlockingCall,
        log: logging.Logger,
    ) -> None:
        self._queue = queue
        self._executor = executor
        self._poison_queue_for = poison_queue_for
        self.options = options
        self._blocking = blocking
        self._log = log
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: dict[asyncio.Task[None], _InFlight] = {}
        self._last_error: tuple[str, float] = ("", 0.0)
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A message was just queued here: poll now (the host's SharedQueueWatcher)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="blob-trigger-queue")

    async def _wait_for_room(self) -> None:
        """Wait until an invocation finishes (or devhost stops)."""
        waker = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait([*self._inflight, waker], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()

    async def _run(self) -> None:
        idle = IDLE_MIN_SECONDS
        while not self._stopping:
            if len(self._inflight) > self.options.new_batch_threshold:
                self._wake.clear()
                await self._wait_for_room()
                continue
            self._wake.clear()
            try:
                batch = await self._blocking(
                    self._queue.receive, self.options.batch_size, INVISIBLE_SECONDS
                )
            except ResourceNotFoundError:
                batch = []
                await self._create_queue()
            except AzureError as exc:
                self._report(
                    f"Blob trigger queue '{self._queue.name}' could not be read: {describe(exc)}"
                )
                batch = []
            for received in batch:
                if self._stopping:
                    await self._give_back(received)
                    continue
                state = _InFlight(received)
                task = asyncio.create_task(self._handle(state), name=f"blob:{received.message_id}")
                self._inflight[task] = state
                task.add_done_callback(self._inflight_done)
            if batch:
                idle = IDLE_MIN_SECONDS
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)
            idle = min(idle * 2, IDLE_MAX_SECONDS)

    async def _create_queue(self) -> None:
        try:
            await self._blocking(self._queue.ensure)
        except AzureError as exc:
            self._report(
                f"Blob trigger queue '{self._queue.name}' could not be created: {describe(exc)}"
            )

    def _inflight_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("Blob trigger message handling failed", exc_info=task.exception())

    def _report(self, text: str) -> None:
        """Log an error once, and again only every 30 s while it repeats."""
        last_text, last_time = self._last_error
        if text != last_text or time.monotonic() - last_time > 30:
            self._log.error("%s", text)
            self._last_error = (text, time.monotonic())

    async def _renew(self, state: _InFlight, finished: asyncio.Event) -> None:
        """Keep the message invisible while its function runs; a renewal is never cut short,
        so the message is settled with its latest pop receipt."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), RENEW_EVERY)
            if finished.is_set():
                return
            try:
                await self._blocking(self._queue.set_visibility, state.received, INVISIBLE_SECONDS)
            except AzureError as exc:
                self._log.warning(
                    "Could not extend blob trigger message visibility: %s", describe(exc)
                )

    async def handle(self, received: Received) -> None:
        """Run and settle one received message (what each in-flight task does)."""
        await self._handle(_InFlight(received))

    async def _handle(self, state: _InFlight) -> None:
        received = state.received
        finished = asyncio.Event()
        renewer = asyncio.create_task(self._renew(state, finished))
        try:
            try:
                state.message = BlobTriggerMessage.from_json(decode(received.content))
            except InvalidMessage as exc:
                self._log.error(
                    "Blob trigger queue message %s is not a blob trigger message: %s",
                    received.message_id,
                    exc,
                )
                result = Result.FAILED
            else:
                result = await self._executor.run(state.message, received.dequeue_count)
        finally:
            finished.set()
        await renewer
        if state.abandoned:
            return  # given back at shutdown; it runs again later
        try:
            await self._settle(state, result)
        except AzureError as exc:
            self._log.error(
                "Could not settle blob trigger message %s: %s", received.message_id, describe(exc)
            )

    async def _settle(self, state: _InFlight, result: Result) -> None:
        received = state.received
        if result is Result.COMPLETE:
            await self._blocking(self._queue.delete, received)
            return
        if received.dequeue_count < self.options.max_dequeue_count:
            await self._blocking(
                self._queue.set_visibility, received, int(self.options.visibility_timeout)
            )
            return
        poison = self._poison_queue_for(state.message)
        try:
            text = decode(received.content)
        except InvalidMessage:
            text = received.content
        await self._blocking(poison.send_creating, text)
        await self._blocking(self._queue.delete, received)
        self._log.error(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s': %s",
            self.options.max_dequeue_count,
            poison.name,
            text,
        )

    async def _give_back(self, received: Received) -> None:
        try:
            await self._blocking(self._queue.set_visibility, received, 0)
        except AzureError as exc:
            self._log.warning(
                "Could not give back message %s: %s", received.message_id, describe(exc)
            )

    async def stop(self, grace: float) -> None:
        """Stop receiving; let running invocations finish within `grace`; give the rest back."""
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + grace
        if self._task is not None:
            await asyncio.wait([self._task], timeout=max(0.0, min(grace, 5.0)))
            self._task.cancel()
        running = list(self._inflight)
        if running:
            await asyncio.wait(running, timeout=max(0.0, deadline - time.monotonic()))
        for task, state in list(self._inflight.items()):
            state.abandoned = True
            await self._give_back(state.received)
            self._log.info(
                "Blob '%s' did not finish within the shutdown grace period: its message is "
                "given back to the queue, so it runs again",
                f"{state.message.container}/{state.message.blob}"
                if state.message
                else state.received.message_id,
            )
            task.cancel()
