"""The blob trigger source: registrations, the host queue, scans, watchers and the webhook."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from azure.core.exceptions import AzureError

from devhost.blobs.consumer import QueueConsumer, QueueOptions
from devhost.blobs.errors import describe
from devhost.blobs.eventgrid import WEBHOOK_PATH, BlobWebhook
from devhost.blobs.executor import BlobExecutor, BlobFunction, function_id_for
from devhost.blobs.messages import POISON_QUEUE, BlobTriggerMessage, HostQueue, host_queue_name
from devhost.blobs.paths import BlobPathPattern
from devhost.blobs.receipts import HOSTS_CONTAINER, Receipts
from devhost.blobs.scanner import ContainerScanner
from devhost.blobs.watcher import ContainerWatcher
from devhost.connections import (
    DEFAULT_STORAGE,
    ConnectionNotConfigured,
    StorageConnection,
    resolve_storage,
)
from devhost.expressions import resolve
from devhost.hostid import host_id_for
from devhost.indexing import IndexedFunction
from devhost.triggers.base import TriggerSource

POLL_SECONDS = 0.5
# How long start-up waits for the blob watches to record what already exists.
BASELINE_WAIT_SECONDS = 10
EVENT_GRID = "eventgrid"
SCAN = "logsandcontainerscan"


class BlobTriggerSource(TriggerSource):
    """Runs every blob-triggered function.

    As in the blob extension v5, every trigger goes through one storage queue in the
    AzureWebJobsStorage account, `azure-webjobs-blobtrigger-<host id>`: the polling scan (after
    its receipt), the Event Grid webhook and devhost's local watcher write a message per blob, and
    one consumer runs the function for each, with the queue's retries and poison queue.
    """

    trigger_type = "blobTrigger"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._registered: dict[str, BlobFunction] = {}
        self._clients: dict[str, tuple[Any, Any]] = {}
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="devhost-blobs")
        self._queue: HostQueue | None = None
        self._host_queues: Any = None
        self._consumer: QueueConsumer | None = None
        self._watchers: list[ContainerWatcher] = []
        self._pollers: list[asyncio.Task[None]] = []
        self._not_running = "blob triggers are starting"
        self._stopping = asyncio.Event()
        self._webhook = BlobWebhook(self._enqueue, self._is_known, self.log)
        self._errors: dict[str, float] = {}

    # -- what the host shows and serves ----------------------------------------------------

    def describe(self, fn: IndexedFunction) -> str:
        trigger = fn.trigger
        path = trigger.get("path")
        if str(trigger.get("source") or "").lower() == EVENT_GRID:
            url = f"{self.context.base_url}{WEBHOOK_PATH}?functionName={function_id_for(fn.name)}"
            return f"blobTrigger (EventGrid: {path}) {url}"
        return f"blobTrigger ({path})"

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", WEBHOOK_PATH, self._handle_webhook)]

    def status(self) -> dict[str, Any]:
        return {
            "functions": sorted(f.fn.name for f in self._registered.values()),
            "queue": self._queue.name if self._queue else None,
        }

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        if self._queue is None:
            return web.Response(status=500, text=self._not_running)
        return await self._webhook.handle(request)

    def _is_known(self, function_id: str | None) -> bool:
        return function_id in self._registered

    async def _blocking(self, call: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(call, *args))

    async def _enqueue(self, message: BlobTriggerMessage) -> None:
        assert self._queue is not None
        await self._blocking(self._queue.put, message)
        if self._consumer is not None:
            self._consumer.wake()

    # -- start-up ------------------------------------------------------------------------------

    def _clients_for(self, connection: str) -> tuple[Any, Any]:
        if connection not in self._clients:
            storage = resolve_storage(connection)
            try:
                queues = storage.queue_service()
            except ConnectionNotConfigured:
                queues = None  # a blob-only account: poison messages go to the host account
            self._clients[connection] = (storage.blob_service(), queues)
        return self._clients[connection]

    def _register(self, fn: IndexedFunction) -> BlobFunction:
        trigger = fn.trigger
        pattern = BlobPathPattern(resolve(str(trigger.get("path") or "")))
        source = str(trigger.get("source") or "LogsAndContainerScan")
        if source.lower() not in (EVENT_GRID, SCAN):
            raise ValueError(f"unknown source '{source}' (EventGrid or LogsAndContainerScan)")
        connection = str(trigger.get("connection") or "") or DEFAULT_STORAGE
        blob_service, queue_service = self._clients_for(connection)
        return BlobFunction(
            fn=fn,
            pattern=pattern,
            event_grid=source.lower() == EVENT_GRID,
            connection=connection,
            blob_service=blob_service,
            queue_service=queue_service,
        )

    async def start(self) -> None:
        try:
            host_storage = resolve_storage()
        except ConnectionNotConfigured as exc:
            self._not_running = f"blob triggers need AzureWebJobsStorage: {exc}"
            for fn in self.functions:
                self.log.error("Blob trigger '%s' will not run: %s", fn.name, exc)
            return
        for fn in self.functions:
            try:
                registration = self._register(fn)
            except (ValueError, ConnectionNotConfigured) as exc:
                self.log.error("Blob trigger '%s' will not run: %s", fn.name, exc)
                continue
            self._registered[registration.function_id] = registration
        if not self._registered:
            self._not_running = "no blob trigger could be registered (see the log)"
            return
        await self._start_queue(host_storage)

    def _options(self) -> QueueOptions:
        try:
            return QueueOptions.from_host_json(self.context.host_options.raw)
        except ValueError as exc:
            self.log.error("host.json queue options ignored for blob triggers: %s", exc)
            return QueueOptions()

    async def _start_queue(self, host_storage: StorageConnection) -> None:
        host_id = host_id_for(self.context.app_dir)
        host_blobs = host_storage.blob_service()
        self._host_queues = host_storage.queue_service()
        queue = HostQueue(self._host_queues.get_queue_client(host_queue_name(host_id)))
        # Created in the background: unreachable storage (whose SDK retries last a minute or
        # more) must not hold up devhost's start; every poll reports what fails until then.
        self._pollers.append(
            asyncio.create_task(self._ensure_queue(queue), name=f"ensure {queue.name}")
        )
        self._queue = queue
        executor = BlobExecutor(self.context, self._registered, self._blocking, self.log)
        self._consumer = QueueConsumer(
            queue, executor, self._poison_queue, self._options(), self._blocking, self.log
        )
        receipts = Receipts(host_blobs, host_id)
        hosts_container = host_blobs.get_container_client(HOSTS_CONTAINER)
        groups: dict[tuple[bool, str, str], list[BlobFunction]] = defaultdict(list)
        for target in self._registered.values():
            groups[(target.event_grid, target.connection, target.pattern.container)].append(target)
        pollers: list[tuple[str, Callable[[], int], asyncio.Task[None] | None]] = []
        for (event_grid, connection, container), targets in groups.items():
            client = targets[0].blob_service.get_container_client(container)
            if event_grid:
                watcher = ContainerWatcher(
                    client, targets, hosts_container, host_id, connection, queue.put, self.log
                )
                self._watchers.append(watcher)
                # The first poll records what exists now: only later changes are events.
                label = f"watch '{container}'"
                baseline = asyncio.create_task(self._poll_once(label, watcher.poll))
                pollers.append((label, watcher.poll, baseline))
            else:
                scanner = ContainerScanner(client, targets, receipts, queue.put, self.log)
                pollers.append((f"scan of '{container}'", scanner.scan, None))
        baselines = [baseline for _, _, baseline in pollers if baseline is not None]
        if baselines:
            # Normally quick; unreachable storage (the SDK retries for a minute or more) must
            # not hold up devhost's start: the watch then begins once storage answers.
            _, slow = await asyncio.wait(baselines, timeout=BASELINE_WAIT_SECONDS)
            if slow:
                self.log.warning(
                    "Blob watches are still reading their containers after %d s (storage slow "
                    "or unreachable?): blobs written before they finish will not trigger",
                    BASELINE_WAIT_SECONDS,
                )
        self._consumer.start()
        for label, poll, baseline in pollers:
            task = asyncio.create_task(self._poll_loop(label, poll, baseline), name=label)
            self._pollers.append(task)

    async def _ensure_queue(self, queue: HostQueue) -> None:
        try:
            await self._blocking(queue.ensure)
        except AzureError as exc:
            self.log.error(
                "Blob trigger queue '%s' could not be created yet: %s", queue.name, describe(exc)
            )

    def _poison_queue(self, message: BlobTriggerMessage | None) -> HostQueue:
        """The poison queue in the blob's own account, else in the host account."""
        target = self._registered.get(message.function_id or "") if message else None
        service = target.queue_service if target and target.queue_service else self._host_queues
        return HostQueue(service.get_queue_client(POISON_QUEUE))

    # -- polling -------------------------------------------------------------------------------

    async def _poll_once(self, label: str, poll: Callable[[], int]) -> None:
        try:
            if await self._blocking(poll) and self._consumer is not None:
                self._consumer.wake()
        except AzureError as exc:
            self._report(f"Blob {label} failed: {describe(exc)}")
        except Exception:
            self.log.exception("Blob %s failed: devhost internal error", label)

    def _report(self, text: str) -> None:
        """Log a repeating storage error once every 30 s, not on every poll."""
        if time.monotonic() - self._errors.get(text, -1e9) > 30:
            self.log.error("%s", text)
            self._errors[text] = time.monotonic()

    async def _poll_loop(
        self, label: str, poll: Callable[[], int], baseline: asyncio.Task[None] | None = None
    ) -> None:
        if baseline is not None:
            await baseline  # one poll at a time per watcher
        while not self._stopping.is_set():
            await self._poll_once(label, poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    # -- shutdown ------------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        for task in self._pollers:
            task.cancel()
        await asyncio.gather(*self._pollers, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop(grace)
        for watcher in self._watchers:
            with contextlib.suppress(AzureError):
                await self._blocking(watcher.release)
        self._pool.shutdown(wait=False)
