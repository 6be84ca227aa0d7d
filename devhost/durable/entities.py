"""Runs durable entities: one batch at a time per entity, in arrival order, state in SQLite.

Requests for an entity (from orchestrations' call_entity/signal_entity and from clients'
signals) wait in `entity_requests`. When an entity has requests and no batch running, every
queued request (up to MAX_BATCH) goes to one invocation of the entity function, as the
extension batches out-of-process entities. The new state, the consumed requests and the
responses to calling orchestrations are committed in one transaction: a crash before it runs
the batch again (the entity code is at-least-once, as in Azure); after it, nothing is lost or
delivered twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from azure.functions import meta

from devhost.durable import entity_store, entity_wire
from devhost.durable.clock import Clock
from devhost.durable.entity_store import EntityBatch
from devhost.durable.history import EventType, event
from devhost.durable.store import Store, Tx
from devhost.indexing import IndexedFunction
from devhost.invoker import FunctionInvocationError, Invoker

log = logging.getLogger("devhost.durable")

# The extension's maxEntityOperationBatchSize outside the Consumption plan (it is 50 there).
MAX_BATCH = 5000
# A batch whose invocation failed as a whole is aborted and retried, as the extension does
# with an entity work item that hit an internal error; the delay doubles up to the cap.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0


class UnknownEntity(ValueError):
    """A signal for an entity function the app does not define (the extension's message)."""


class EntityScheduler:
    """Entity batches for one task hub, on the engine's event loop."""

    def __init__(
        self,
        store: Store,
        functions: dict[str, IndexedFunction],
        invoker: Invoker,
        clock: Clock,
        max_concurrent: int,
        on_response: Callable[[str], None],
        wake: Callable[[], None],
    ) -> None:
        self.store = store
        self.functions = functions  # by lower-cased entity name
        self.names = frozenset(functions)
        self.invoker = invoker
        self.clock = clock
        self.max_concurrent = max(1, max_concurrent)
        self._on_response = on_response
        self._wake = wake
        self._ready: dict[str, None] = {}  # insertion order = arrival order
        self._running: set[str] = set()
        # Entities whose last batch failed as a whole: parked until their retry is due (they
        # do not keep devhost from being idle), with the delay of their next retry.
        self._parked: set[str] = set()
        self._backoff: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Schedule every entity that still has requests from a previous run."""
        # A snapshot read: no commit of its own, so start-up commits the same as before.
        for entity_id in self.store.read(entity_store.entities_with_requests):
            self._ready[entity_id] = None
        self._dispatch()

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def is_idle(self) -> bool:
        # A parked entity waits for its retry timer, not for work devhost could do now.
        return not self._running and all(e in self._parked for e in self._ready)

    # -- scheduling ------------------------------------------------------------------------

    def notify(self, entity_ids: list[str]) -> None:
        """Requests for these entities were committed: run them."""
        for entity_id in entity_ids:
            self._ready[entity_id] = None
        self._dispatch()

    def _dispatch(self) -> None:
        if self._stopping:
            return
        for entity_id in list(self._ready):
            if len(self._running) >= self.max_concurrent:
                break
            if entity_id in self._running or entity_id in self._parked:
                continue
            del self._ready[entity_id]
            self._running.add(entity_id)
            task = asyncio.create_task(self._run(entity_id), name=f"entity:{entity_id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("devhost internal error in %s", task.get_name(), exc_info=task.exception())
        self._dispatch()
        self._wake()

    async def _run(self, entity_id: str) -> None:
        try:
            batch = self.store.read(lambda tx: entity_store.load_batch(tx, entity_id, MAX_BATCH))
            if not batch.requests:
                return
            try:
                parents = await self._execute(batch)
            except Exception:
                # Anything unexpected (a malformed result, a store error): keep the requests
                # queued and try again later rather than strand them until a restart.
                log.exception("Entity '%s': the batch failed unexpectedly; retrying", entity_id)
                parents = None
            if parents is None:
                self._retry_later(entity_id)
                return
            self._backoff.pop(entity_id, None)
            for parent in parents:
                self._on_response(parent)
            if len(batch.requests) == MAX_BATCH:
                self._ready[entity_id] = None  # more may be waiting
        finally:
            self._running.discard(entity_id)

    def _retry_later(self, entity_id: str) -> None:
        delay = min(self._backoff.get(entity_id, RETRY_FIRST_SECONDS / 2) * 2, RETRY_MAX_SECONDS)
        self._backoff[entity_id] = delay
        self._parked.add(entity_id)

        def again() -> None:
            self._parked.discard(entity_id)
            self.notify([entity_id])

        asyncio.get_running_loop().call_later(delay, again)

    # -- one batch -------------------------------------------------------------------------

    async def _execute(self, batch: EntityBatch) -> list[str] | None:
        """Invoke the entity for the batch and commit what it did; the orchestrations that
        got a response, or None when the batch must be retried."""
        name, key = entity_wire.parse_scheduler_id(batch.entity_id)
        fn = self.functions.get(name)
        messages = [r.message for r in batch.requests]
        if fn is None:
            # Requests queued for an entity the app no longer defines (its code changed
            # while they waited; new ones are refused): kept, and retried, until it is back.
            log.error(
                "Entity '%s' has %d queued operation(s) but no entity function '%s'",
                batch.entity_id,
                len(messages),
                name,
            )
            return None
        context = entity_wire.trigger_input(name, key, batch.exists, batch.state, messages)
        try:
            result = await self.invoker.invoke(
                fn, {fn.trigger["name"]: meta.Datum(context, "string")}
            )
            outcome = entity_wire.parse_batch_output(
                result.return_value.value if result.return_value else None, len(messages)
            )
        except (FunctionInvocationError, entity_wire.EntityWireError) as exc:
            log.error(
                "Entity '%s': the batch of %d operation(s) failed and will be retried: %s",
                batch.entity_id,
                len(messages),
                exc,
            )
            return None
        now = self.clock.now_datetime()
        now_epoch = self.clock.now()
        now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")

        def commit(tx: Tx) -> list[str]:
            entity_store.save_state(
                tx,
                batch.entity_id,
                outcome.exists,
                outcome.state,
                [r.id for r in batch.requests],
                now_text,
            )
            parents: list[str] = []
            for message, op in zip(messages, outcome.results, strict=True):
                if message.get("signal") or not message.get("parent"):
                    continue
                response = event(
                    EventType.EVENT_RAISED,
                    now,
                    Name=message["id"],
                    Input=entity_wire.response_text(op.result, op.is_error),
                )
                tx.enqueue(message["parent"], message.get("parentExecution"), response, now_epoch)
                parents.append(message["parent"])
            return parents

        return await self.store.run(commit)

    # -- client operations -----------------------------------------------------------------

    async def signal(self, name: str, key: str, operation: str, input_text: str | None) -> None:
        """A client's signal (`POST entities/{name}/{key}?op=`)."""
        entity_wire.validate_key(key)
        if name.lower() not in self.names:
            raise UnknownEntity(entity_wire.unknown_entity_message(name.lower(), self.names))
        entity_id = entity_wire.scheduler_id(name, key)
        message = entity_wire.request_message(operation, input_text, str(uuid.uuid4()), signal=True)
        await self.store.run(lambda tx: entity_store.enqueue_request(tx, entity_id, message))
        self.notify([entity_id])

    async def read_state(self, name: str, key: str) -> tuple[bool, str | None]:
        entity_id = entity_wire.scheduler_id(name, key)
        return await self.store.run(lambda tx: entity_store.read_state(tx, entity_id))
