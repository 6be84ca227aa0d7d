"""Polls one function's storage queue and settles each message, as the queues extension does.

QueueListener + QueueProcessor of the extension: batches of `batchSize` messages, a new batch
once no more than `newBatchThreshold` are in flight; an idle queue is polled with a randomized
exponential backoff up to `maxPollingInterval`, back to 100 ms as soon as messages arrive. A
message is invisible for 10 minutes while its function runs (renewed every 5 minutes). Success
deletes it; failure makes it visible again after `visibilityTimeout`, or moves it to
`<queue>-poison` once its dequeue count reaches `maxDequeueCount`; a message received with a
dequeue count above it goes there without running. A message that is not valid Base64 (with
the default encoding) goes to the poison queue at once, as stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError

from devhost.blobs.errors import describe
from devhost.queues.backoff import PollingBackoff
from devhost.queues.message import InvalidEncoding, Received, decode_body, encode_body
from devhost.queues.options import MIN_POLLING_INTERVAL, QueueTriggerOptions
from devhost.queues.storage import StorageQueue

RECEIVE_VISIBILITY_SECONDS = 600  # QueueListener's _visibilityTimeout: 10 minutes
RENEW_EVERY_SECONDS = RECEIVE_VISIBILITY_SECONDS / 2  # renewed halfway to expiring
BlockingCall = Callable[..., Awaitable[Any]]
# Runs the function for one message with its decoded body; True when it succeeded.
RunMessage = Callable[[Received, bytes], Awaitable[bool]]


# How long a stop waits for settles already under way (a delete or an update: one request).
SETTLE_AT_STOP_SECONDS = 5.0


@dataclass
class _InFlight:
    received: Received
    abandoned: bool = False
    # The function has returned and the message is being deleted, released or poisoned: a
    # shutdown must not give it back (that would change its pop receipt under the settle).
    settling: bool = False


class QueueListener:
    def __init__(
        self,
        function_name: str,
        queue: StorageQueue,
        poison: StorageQueue | None,
        options: QueueTriggerOptions,
        run: RunMessage,
        blocking: BlockingCall,
        log: logging.Logger,
    ) -> None:
        self.function_name = function_name
        self.queue = queue
        self.poison = poison
        self.options = options
        self._run_message = run
        self._blocking = blocking
        self._log = log
        self._backoff = PollingBackoff(MIN_POLLING_INTERVAL, options.max_polling_interval)
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: dict[asyncio.Task[None], _InFlight] = {}
        self._queue_exists = False
        self._said_missing = False
        self._errors: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name=f"queue:{self.function_name}")
        self._task.add_done_callback(self._report_crash)

    def wake(self) -> None:
        """A message was just added to this queue by this host: poll now (SharedQueueWatcher)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    # -- polling ----------------------------------------------------------------------------

    async def _poll(self) -> None:
        found_since_delay = False
        while not self._stopping:
            batch = await self._receive()
            for received in batch:
                if self._stopping:
                    await self._give_back(received)
                    continue
                state = _InFlight(received)
                task = asyncio.create_task(
                    self._process(state), name=f"queue:{self.function_name}:{received.message_id}"
                )
                self._inflight[task] = state
                task.add_done_callback(self._inflight_done)
            if batch:
                found_since_delay = True
                await self._wait_for_threshold()
                continue
            delay = self._backoff.next_delay(found_since_delay)
            found_since_delay = False
            self._log.debug("Queue '%s': next poll in %.0f ms", self.queue.name, delay * 1000)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _receive(self) -> list[Received]:
        try:
            if not self._queue_exists:
                # As the extension: no receive (and no error) until the queue exists; the
                # listener never creates it.
                self._queue_exists = await self._blocking(self.queue.exists)
                if not self._queue_exists:
                    if not self._said_missing:
                        self._log.info(
                            "Queue '%s' of '%s' does not exist yet: it is polled until it is "
                            "created (the host does not create a trigger's queue)",
                            self.queue.name,
                            self.function_name,
                        )
                        self._said_missing = True
                    return []
            return await self._blocking(
                self.queue.receive, self.options.batch_size, RECEIVE_VISIBILITY_SECONDS
            )
        except AzureError as exc:
            self._queue_exists = False  # check again: it may have been deleted
            self._report(f"Queue '{self.queue.name}' could not be read: {describe(exc)}")
            return []

    async def _wait_for_threshold(self) -> None:
        """Wait while more than newBatchThreshold messages are in flight (or until stopping)."""
        while len(self._inflight) > self.options.new_batch_threshold and not self._stopping:
            self._wake.clear()
            waker = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait([*self._inflight, waker], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waker.cancel()

    def _inflight_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            self._log.error(
                "Queue '%s': message handling failed (devhost internal error)",
                self.queue.name,
                exc_info=task.exception(),
            )

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error(
                "Queue listener of '%s' stopped: devhost internal error",
                self.function_name,
                exc_info=task.exception(),
            )

    def _report(self, text: str) -> None:
        """Log a storage error once, and again only every 30 s while it repeats."""
        if time.monotonic() - self._errors.get(text, -1e9) > 30:
            self._log.error("%s", text)
            self._errors[text] = time.monotonic()

    # -- one message ------------------------------------------------------------------------

    async def _process(self, state: _InFlight) -> None:
        received = state.received
        try:
            body = decode_body(received.content, self.options.message_encoding)
        except InvalidEncoding as exc:
            # QueueServiceClientProvider's MessageDecodingFailed handler: no invocation, the
            # message goes as stored to the poison queue whatever its dequeue count.
            self._log.warning(
                "Message decoding has failed! Check MessageEncoding settings. MessageId=%s. "
                "(queue '%s', function '%s': %s)",
                received.message_id,
                self.queue.name,
                self.function_name,
                exc,
            )
            state.settling = True
            await self._settle_quietly(self._to_poison, received, received.content)
            return
        if received.dequeue_count > self.options.max_dequeue_count:
            # QueueProcessor.BeginProcessingMessageAsync: already past the limit (an earlier
            # attempt was cut short), so it is poisoned without running.
            state.settling = True
            await self._settle_quietly(self._to_poison, received, self._stored_text(body))
            return
        finished = asyncio.Event()
        renewer = asyncio.create_task(self._renew(received, finished))
        try:
            succeeded = await self._run_message(received, body)
        finally:
            finished.set()
            await renewer
        if state.abandoned:
            return  # given back at shutdown: it runs again later
        state.settling = True
        if succeeded:
            await self._settle_quietly(self._delete, received)
        else:
            await self._settle_quietly(self._release_or_poison, received, body)

    def _stored_text(self, body: bytes) -> str:
        return encode_body(body, self.options.message_encoding)

    async def _settle_quietly(self, action: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await action(*args)
        except AzureError as exc:
            received: Received = args[0]
            self._log.error(
                "Queue '%s': could not settle message %s: %s",
                self.queue.name,
                received.message_id,
                describe(exc),
            )

    async def _renew(self, received: Received, finished: asyncio.Event) -> None:
        """Keep the message invisible while its function runs; a renewal is never cut short,
        so the message is settled with its latest pop receipt."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), RENEW_EVERY_SECONDS)
            if finished.is_set():
                return
            try:
                await self._blocking(
                    self.queue.set_visibility, received, RECEIVE_VISIBILITY_SECONDS
                )
            except AzureError as exc:
                self._log.warning(
                    "Queue '%s': could not extend the visibility of message %s: %s",
                    self.queue.name,
                    received.message_id,
                    describe(exc),
                )

    async def _delete(self, received: Received) -> None:
        try:
            await self._blocking(self.queue.delete, received)
        except HttpResponseError as exc:
            if exc.status_code not in (400, 404, 409):  # pop receipt or message gone: fine
                raise
            self._log.debug("Queue '%s': message %s was already gone", self.queue.name, exc)

    async def _release_or_poison(self, received: Received, body: bytes) -> None:
        if self.poison is None:
            # QueueProcessor: without a poison queue a failed message stays invisible, so a
            # failing function cannot spin on it.
            self._log.warning(
                "Queue '%s' has no poison queue: failed message %s stays invisible for %d s",
                self.queue.name,
                received.message_id,
                RECEIVE_VISIBILITY_SECONDS,
            )
            return
        if received.dequeue_count >= self.options.max_dequeue_count:
            await self._to_poison(received, self._stored_text(body))
            return
        seconds = int(self.options.visibility_timeout)
        try:
            await self._blocking(self.queue.set_visibility, received, seconds)
        except HttpResponseError as exc:
            if exc.status_code not in (400, 404, 409):
                raise
            return
        self._log.info(
            "Queue '%s': message %s failed on attempt %d of %d; visible again in %d s",
            self.queue.name,
            received.message_id,
            received.dequeue_count,
            self.options.max_dequeue_count,
            seconds,
        )

    async def _to_poison(self, received: Received, stored_text: str) -> None:
        """Copy the message (its stored text: the same body) to the poison queue, then delete."""
        if self.poison is None:
            self._log.warning(
                "Queue '%s' has no poison queue: message %s stays invisible for %d s",
                self.queue.name,
                received.message_id,
                RECEIVE_VISIBILITY_SECONDS,
            )
            return
        self._log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'. "
            "(message %s of queue '%s', dequeue count %d, function '%s')",
            self.options.max_dequeue_count,
            self.poison.name,
            received.message_id,
            self.queue.name,
            received.dequeue_count,
            self.function_name,
        )
        await self._blocking(self.poison.send_creating, stored_text)
        await self._delete(received)

    async def _give_back(self, received: Received) -> None:
        try:
            await self._blocking(self.queue.set_visibility, received, 0)
        except AzureError as exc:
            self._log.warning(
                "Queue '%s': could not give back message %s: %s",
                self.queue.name,
                received.message_id,
                describe(exc),
            )

    # -- shutdown ---------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        """Stop receiving; let running invocations finish within `grace`; give the rest back."""
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + grace
        if self._task is not None:
            # Not cancelled mid-receive unless it overruns: messages a receive has already
            # taken are given back by the loop itself, not left invisible for 10 minutes.
            await asyncio.wait([self._task], timeout=max(1.0, grace))
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        running = list(self._inflight)
        if running:
            await asyncio.wait(running, timeout=max(0.0, deadline - time.monotonic()))
        settling = [task for task, state in self._inflight.items() if state.settling]
        if settling:
            await asyncio.wait(settling, timeout=SETTLE_AT_STOP_SECONDS)
        for task, state in list(self._inflight.items()):
            if state.settling:
                continue  # its settle overran the wait above; it still completes on its own
            state.abandoned = True
            await self._give_back(state.received)
            self._log.info(
                "Queue '%s': message %s did not finish within the shutdown grace period; it is "
                "given back to the queue and runs again",
                self.queue.name,
                state.received.message_id,
            )
            task.cancel()
