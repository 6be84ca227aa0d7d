"""Runs orchestrations: episodes through the SDK's replay, activities, timers, sub-orchestrations.

The engine follows the Durable Task model: every orchestration has an inbox of messages
(ExecutionStarted, completions, fired timers, raised events, termination). An episode takes
every message that is ready, appends them to the history after an OrchestratorStarted event,
replays the orchestrator through the SDK, walks the returned actions and commits the new
history, consumed messages and new work in one transaction. Activities are work items that
are deleted in the same transaction that records their completion, so a completion that was
persisted never runs again, and one that was not is retried after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta

from devhost.durable import decisions, http_activity, lifecycle
from devhost.durable.activities import ActivityWorkers, Finished
from devhost.durable.clock import Clock
from devhost.durable.commit import Committed, record_episode
from devhost.durable.decisions import Episode
from devhost.durable.entities import EntityScheduler
from devhost.durable.errors import (
    InstanceAlreadyRunning,
    InstanceGone,
    InstanceNotFound,
    UnknownOrchestrator,
    validate_instance_id,
)
from devhost.durable.failures import activity_failure
from devhost.durable.history import (
    EventType,
    event,
    execution_started,
    orchestrator_started,
    parse_timestamp,
)
from devhost.durable.played import PlayedHistory
from devhost.durable.replay_process import ReplayProcess, ReplayWorkerLost
from devhost.durable.store import (
    RUNNING_STATES,
    TERMINAL_STATES,
    InboxMessage,
    Instance,
    Store,
    Tx,
    WorkItem,
)
from devhost.durable.walk import (
    ActionWalk,
    FunctionCatalog,
    HistoryIndex,
    OrchestrationRejected,
)
from devhost.faults import crash_point
from devhost.indexing import IndexedFunction
from devhost.invoker import FunctionInvocationError, Invoker
from devhost.settings import DurableOptions

log = logging.getLogger("devhost.durable")

# The longest an episode waits for more completions of a fan-out (see _coalescing_delay).
MAX_COALESCING_SECONDS = 0.25


def utc_now_text(clock: Clock) -> str:
    return clock.now_datetime().strftime("%Y-%m-%dT%H:%M:%SZ")


class DurableEngine:
    """The Durable extension's behaviour for one task hub, on one event loop."""

    def __init__(
        self,
        store: Store,
        functions: Iterable[IndexedFunction],
        invoker: Invoker,
        options: DurableOptions,
        clock: Clock,
    ) -> None:
        self.store = store
        self.invoker = invoker
        self.options = options
        self.clock = clock
        self.orchestrators: dict[str, IndexedFunction] = {}
        self.activities: dict[str, IndexedFunction] = {}
        for fn in functions:
            if fn.trigger_type == "orchestrationTrigger":
                self.orchestrators[fn.durable_name or fn.name] = fn
            elif fn.trigger_type == "activityTrigger":
                self.activities[fn.durable_name or fn.name] = fn
        entity_functions = {
            (fn.durable_name or fn.name).lower(): fn
            for fn in functions
            if fn.trigger_type == "entityTrigger"
        }
        self.catalog = FunctionCatalog(
            activities=frozenset(self.activities),
            orchestrators=frozenset(self.orchestrators),
            entities=frozenset(entity_functions),
        )
        self._history_cache: dict[str, PlayedHistory] = {}
        # Set by the host to replay in a worker process of its own (replay_process.py).
        self.replay_process: ReplayProcess | None = None
        # Insertion-ordered: instances run in the order they became ready, as Azure reads its
        # control queues roughly in arrival order (a set's hash order starved some instances).
        self._ready: dict[str, None] = {}
        self._running: set[str] = set()
        self._timers: list[tuple[float, int, str]] = []
        self._timer_seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers = ActivityWorkers(
            store,
            options.max_concurrent_activities,
            self._activity_completion,
            self._activities_finished_elsewhere,
            sync_limit=invoker.max_threads,
        )
        # Activity work per instance that is queued, running or being recorded, and when each
        # ready instance became ready: an episode waits a little for the rest of a fan-out.
        self._outstanding: Counter[str] = Counter()
        self._ready_since: dict[str, float] = {}
        self._episode_cost: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False
        # Where episode time goes, for the benchmark (GET /admin/devhost/stats).
        self.stats: Counter[str] = Counter()
        self.entities = EntityScheduler(
            store,
            entity_functions,
            invoker,
            clock,
            options.max_concurrent_orchestrators,
            on_response=self._mark_ready,
            wake=self._wake.set,
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover queued messages and work items from the store, then start dispatching."""

        def recover(tx: Tx) -> tuple[list[tuple[str, float]], list[WorkItem], str | None]:
            return tx.pending_inbox(), tx.all_work_items(), tx.get_meta("clock_offset")

        self._loop = asyncio.get_running_loop()
        inbox, items, offset = await self.store.run(recover)
        if self.clock.virtual and offset is not None:
            self.clock.offset = max(self.clock.offset, float(offset))
        for instance_id, visible_at in inbox:
            self._schedule_message(instance_id, visible_at)
        self._queue_activities(items)
        if items:
            log.info("Resuming %d activity work item(s) left by a previous run", len(items))
        await self.entities.start()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="durable-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._workers.stop()
        await self.entities.stop()
        self._wake.set()
        if self._dispatcher:
            self._dispatcher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._dispatcher:
            await asyncio.gather(self._dispatcher, return_exceptions=True)

    # -- scheduling --------------------------------------------------------------------------

    def _mark_ready(self, instance_id: str) -> None:
        if instance_id not in self._ready:
            self._ready[instance_id] = None
            self._ready_since[instance_id] = time.monotonic()
        self._wake.set()

    def _queue_activities(self, items: list[WorkItem]) -> None:
        for item in items:
            self._outstanding[item.instance_id] += 1
        if items:
            self._workers.submit(items)

    def _coalescing_delay(self, instance_id: str, now: float) -> float:
        """Seconds to hold a ready episode so more of a fan-out's completions join it.

        Only while the instance still has activities in progress, and never longer than its
        previous episode took: the wait is bounded by the replay cost it saves.
        """
        if not self._outstanding.get(instance_id):
            return 0.0
        window = min(MAX_COALESCING_SECONDS, self._episode_cost.get(instance_id, 0.0))
        return self._ready_since.get(instance_id, now) + window - now

    def _schedule_message(self, instance_id: str, visible_at: float) -> None:
        if visible_at <= self.clock.now():
            self._mark_ready(instance_id)
        else:
            heapq.heappush(self._timers, (visible_at, next(self._timer_seq), instance_id))
        self._wake.set()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("devhost internal error in %s", task.get_name(), exc_info=task.exception())
        self._wake.set()

    def is_idle(self) -> bool:
        # Activities queued, running or being recorded all count in _outstanding.
        return (
            not self._ready
            and not self._running
            and not self._outstanding
            and self.entities.is_idle()
        )

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = self.clock.now()
            while self._timers and self._timers[0][0] <= now:
                _, _, instance_id = heapq.heappop(self._timers)
                self._mark_ready(instance_id)
            held: float | None = None
            mono = time.monotonic()
            for instance_id in list(self._ready):
                if instance_id in self._running:
                    continue
                if len(self._running) >= self.options.max_concurrent_orchestrators:
                    break
                delay = self._coalescing_delay(instance_id, mono)
                if delay > 0:
                    held = delay if held is None else min(held, delay)
                    continue
                self._ready.pop(instance_id, None)
                self._ready_since.pop(instance_id, None)
                self._running.add(instance_id)
                self._spawn(self._run_episode(instance_id), f"episode:{instance_id}")
            if self.is_idle():
                if self._timers and self.clock.virtual and self.clock.auto_advance:
                    if self.clock.advance_to(self._timers[0][0]):
                        await self._persist_clock()
                    continue
                self._idle.set()
            else:
                self._idle.clear()
            timeout = held
            if self._timers:
                due = max(0.0, self._timers[0][0] - self.clock.now())
                timeout = due if timeout is None else min(timeout, due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _persist_clock(self) -> None:
        offset = repr(self.clock.offset)
        await self.store.run(lambda tx: tx.set_meta("clock_offset", offset))

    async def wait_idle(self) -> None:
        """Wait until no episode, activity or due timer remains (virtual time: none at all)."""
        while True:
            self._wake.set()
            await self._idle.wait()
            await asyncio.sleep(0)
            if self._idle.is_set() and self.is_idle():
                return

    async def advance_time(self, seconds: float) -> None:
        self.clock.advance_by(seconds)
        await self._persist_clock()
        self._wake.set()

    # -- episodes ----------------------------------------------------------------------------

    async def _run_episode(self, instance_id: str) -> None:
        started = time.perf_counter()
        committed = None
        try:
            committed = await self._episode(instance_id)
        except ReplayWorkerLost as exc:
            # Nothing was recorded: the messages wait in the inbox for another try, a second
            # from now, on a new worker (a worker that dies on every try keeps trying, loudly).
            log.error("%s; the episode of %s runs again in 1 s", exc, instance_id)
            self._schedule_message(instance_id, self.clock.now() + 1.0)
        finally:
            self._running.discard(instance_id)
            self._episode_cost[instance_id] = time.perf_counter() - started
            self._wake.set()
        if committed:
            self._after_commit(committed)

    def _after_commit(self, committed: Committed) -> None:
        self._queue_activities(committed.work_items)
        for instance_id in committed.ready:
            self._mark_ready(instance_id)
        for visible_at, instance_id in committed.timers:
            self._schedule_message(instance_id, visible_at)
        self.entities.notify(committed.entities)
        self._wake.set()

    async def _load(
        self, instance_id: str
    ) -> tuple[Instance | None, PlayedHistory | None, list[InboxMessage]]:
        now = self.clock.now()
        cached = self._history_cache.get(instance_id)

        def load(tx: Tx) -> tuple[Instance | None, list[dict[str, Any]] | None, list[InboxMessage]]:
            inst = tx.get_instance(instance_id)
            messages = tx.ready_messages(instance_id, now)
            history = None
            if inst is not None and (cached is None or cached.execution_id != inst.execution_id):
                history = tx.load_history(instance_id)
            return inst, history, messages

        # Read on the loop over committed state: everything that makes an instance ready is
        # committed before it is marked ready, and its episodes never overlap.
        inst, loaded, messages = self.store.read(load)
        if inst is None:
            return None, None, messages
        if loaded is not None or cached is None:
            cached = PlayedHistory(inst.execution_id, loaded or [])
            # A finished instance's history is not kept: a rewind rewrites it in place (same
            # execution id), and no episode should ever replay the old one.
            if not inst.is_terminal:
                self._history_cache[instance_id] = cached
        return inst, cached, messages

    async def _episode(self, instance_id: str) -> Committed | None:
        started = time.perf_counter()
        inst, history, messages = await self._load(instance_id)
        self.stats["load_seconds"] += time.perf_counter() - started
        if not messages:
            return None
        consumed = [m.id for m in messages]
        if inst is None or inst.is_terminal:
            # Late completions and events for a finished or purged instance are dropped, unless
            # a rewind, restart or new start changed the instance since the read above: then
            # they stay for the episode that follows.
            def drop_if_still_finished(tx: Tx) -> bool:
                now_inst = tx.get_instance(instance_id)
                if now_inst is not None and not now_inst.is_terminal:
                    return False
                tx.delete_messages(consumed)
                return True

            if not await self.store.run(drop_if_still_finished):
                self._mark_ready(instance_id)
            return None
        assert history is not None
        current = [m for m in messages if m.execution_id in (None, inst.execution_id)]
        # Suspension: messages that arrive while suspended wait in the inbox for a resume.
        gate = lifecycle.gate_messages(inst, current)
        consumed = [i for i in consumed if i not in gate.held]
        current = gate.delivered
        if not consumed:
            return None
        started_at = self._episode_time(history.events, current)
        terminate = next(
            (m for m in current if m.event["EventType"] == EventType.EXECUTION_TERMINATED), None
        )
        if terminate is not None:
            decision = decisions.terminated(inst, consumed, started_at, terminate.event)
        elif not current or gate.markers_only:
            if not current:  # only a repeated suspend or resume: nothing to record
                await self.store.run(lambda tx: tx.delete_messages(consumed))
                return None
            events = [m.event for m in current]
            decision = lifecycle.marker_episode(inst, consumed, started_at, events, gate.suspended)
        else:
            new_events = [m.event for m in current]
            new_texts = [m.text or json.dumps(m.event) for m in current]
            if not history.events and not any(
                e["EventType"] == EventType.EXECUTION_STARTED for e in new_events
            ):
                return None  # nothing can run before ExecutionStarted arrives
            decision = await self._replay(
                inst, history, new_events, new_texts, consumed, started_at
            )
            lifecycle.apply_suspension(decision, gate)
        self.stats["episodes"] += 1
        crash_point("episode.after_replay")
        started = time.perf_counter()
        try:
            return await self._commit(decision, len(history.events))
        finally:
            self.stats["commit_seconds"] += time.perf_counter() - started

    def _episode_time(
        self, history: list[dict[str, Any]], messages: list[InboxMessage]
    ) -> datetime:
        """Now, but never before an earlier episode nor before a timer delivered in this one."""
        moment = self.clock.now_datetime()
        for ev in reversed(history):
            if ev["EventType"] == EventType.ORCHESTRATOR_STARTED:
                moment = max(moment, parse_timestamp(ev["Timestamp"]))
                break
        for m in messages:
            if m.event["EventType"] == EventType.TIMER_FIRED:
                moment = max(moment, parse_timestamp(m.event["FireAt"]))
        return moment

    async def _replay(
        self,
        inst: Instance,
        history: PlayedHistory,
        new_events: list[dict[str, Any]],
        new_texts: list[str],
        consumed: list[int],
        at: datetime,
    ) -> Episode:
        episode_events = [orchestrator_started(at), *new_events]
        # Each event is encoded once: a message as it was queued, the rest here; the same text
        # goes into the context, the stored history and the played history (a fan-in's 1,000
        # completions were encoded four times and decoded once).
        episode_texts = [json.dumps(episode_events[0]), *new_texts]
        decision = await self._decide(inst, history, episode_events, episode_texts, consumed, at)
        decision.encode_prefix(episode_events, episode_texts)
        return decision

    async def _decide(
        self,
        inst: Instance,
        history: PlayedHistory,
        episode_events: list[dict[str, Any]],
        episode_texts: list[str],
        consumed: list[int],
        at: datetime,
    ) -> Episode:
        fn = self.orchestrators.get(inst.name)
        if fn is None:
            return decisions.failed(
                inst, consumed, episode_events, at, f"orchestrator '{inst.name}' is not defined"
            )
        binding = fn.trigger["name"]
        context_text = decisions.context_json(inst, history.history_json(episode_texts))
        try:
            started = time.perf_counter()
            try:
                if self.replay_process is not None:
                    answer = await self.replay_process.replay(inst.name, context_text)
                    # The replay alone, timed inside the worker: the rest is the pipe's cost.
                    self.stats["worker_replay_seconds"] += answer.seconds
                    if answer.error is not None:
                        error = decisions.orchestrator_error(answer.error)
                        return decisions.failed(inst, consumed, episode_events, at, error)
                    state_text = answer.state_text
                else:
                    context = meta.Datum(context_text, "string")
                    result = await self.invoker.invoke(fn, {binding: context})
                    state_text = result.return_value.value if result.return_value else None
            finally:
                self.stats["replay_seconds"] += time.perf_counter() - started
                self.stats["replayed_events"] += len(history.events) + len(episode_events)
            if not isinstance(state_text, str):
                raise OrchestrationRejected("the orchestrator returned no state")
            state = json.loads(state_text)
        except FunctionInvocationError as exc:
            error = decisions.orchestrator_error(exc.message)
            return decisions.failed(inst, consumed, episode_events, at, error)
        except OrchestrationRejected as exc:
            return decisions.failed(inst, consumed, episode_events, at, str(exc))
        try:
            walk = ActionWalk(
                HistoryIndex(episode_events, base=history.index),
                at,
                inst.execution_id,
                self.catalog,
                store_inputs=self.options.store_inputs_in_history,
                instance_id=inst.instance_id,
            ).run(state.get("actions") or [], state.get("schemaVersion"))
        except OrchestrationRejected as exc:
            return decisions.failed(inst, consumed, episode_events, at, str(exc))
        return decisions.from_state(inst, consumed, episode_events, at, state, walk)

    # -- commit ------------------------------------------------------------------------------

    async def _commit(self, ep: Episode, history_len: int) -> Committed | None:
        inst = ep.instance
        now = self.clock.now_datetime()
        new_execution = uuid.uuid4().hex if ep.continue_as_new else None
        texts = ep.encoded_events()
        committed = await self.store.run(
            lambda tx: record_episode(tx, ep, history_len, now, new_execution, texts)
        )
        if committed is None:
            self._history_cache.pop(inst.instance_id, None)
            return None
        if ep.continue_as_new or ep.status in TERMINAL_STATES:
            self._history_cache.pop(inst.instance_id, None)
        else:
            cached = self._history_cache.get(inst.instance_id)
            if cached is not None and cached.execution_id == inst.execution_id:
                cached.extend(ep.events, texts)
        if ep.status in TERMINAL_STATES:
            log.info("Orchestration '%s' (%s) %s", inst.name, inst.instance_id, ep.status.lower())
        return committed

    # -- activities --------------------------------------------------------------------------

    def _activity_completion(self, item: WorkItem) -> tuple[dict[str, Any], float]:
        """On an activity thread: run the work item, return its completion and when it is
        visible. A sync function runs on this thread, an async one on the event loop while
        this thread waits, so both count against maxConcurrentActivityFunctions."""
        if item.name == http_activity.ACTIVITY_NAME:  # call_http: the extension's own activity
            completion = http_activity.completion_event(
                item.task_id, item.input, self.clock.now_datetime
            )
            return completion, self.clock.now()
        fn = self.activities[item.name]
        binding = fn.trigger["name"]
        data = meta.Datum(item.input if item.input is not None else "null", "string")
        try:
            if fn.is_async:
                assert self._loop is not None
                result = asyncio.run_coroutine_threadsafe(
                    self.invoker.invoke(fn, {binding: data}), self._loop
                ).result()
            else:
                result = self.invoker.invoke_here(fn, {binding: data})
        except FunctionInvocationError as exc:
            reason, details = activity_failure(item.name, exc.type_name, exc.message, exc.stack)
            completion = event(
                EventType.TASK_FAILED,
                self.clock.now_datetime(),
                TaskScheduledId=item.task_id,
                Reason=reason,
                Details=details,
            )
            return completion, self.clock.now()
        value = result.return_value.value if result.return_value is not None else None
        now = self.clock.now()
        completion = event(
            EventType.TASK_COMPLETED,
            datetime.fromtimestamp(now, tz=UTC),
            TaskScheduledId=item.task_id,
            Result=value,
        )
        return completion, now

    def _activities_finished_elsewhere(self, finished: Finished) -> None:
        """From the store's writer thread (or an activity thread): hand over to the loop."""
        if self._loop is not None:
            # A closed loop raises RuntimeError: devhost is stopping, nobody waits any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._activities_finished, finished)

    def _activities_finished(self, finished: Finished) -> None:
        """Completions committed (or given up): the instances they belong to are ready."""
        for item, recorded in finished:
            self._outstanding[item.instance_id] -= 1
            if self._outstanding[item.instance_id] <= 0:
                del self._outstanding[item.instance_id]
            if recorded:
                self._mark_ready(item.instance_id)
        self._wake.set()

    # -- client operations -------------------------------------------------------------------

    async def start_new(
        self,
        name: str,
        instance_id: str | None,
        input_token: Any,
        version: str | None = None,
    ) -> str:
        if name not in self.orchestrators:
            known = ", ".join(f"'{n}'" for n in sorted(self.orchestrators))
            raise UnknownOrchestrator(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                f"function. Additional info: The following are the known orchestrator "
                f"functions: {known}."
            )
        instance_id = instance_id or uuid.uuid4().hex
        validate_instance_id(instance_id)
        now_epoch = self.clock.now()
        now_text = utc_now_text(self.clock)
        execution_id = uuid.uuid4().hex
        input_text = (
            input_token
            if isinstance(input_token, str) or input_token is None
            else json.dumps(input_token)
        )

        def start(tx: Tx) -> None:
            existing = tx.get_instance(instance_id)
            if existing is not None and existing.runtime_status in RUNNING_STATES:
                raise InstanceAlreadyRunning(
                    f"An Orchestration instance with the status {existing.runtime_status} "
                    "already exists."
                )
            if existing is not None:
                tx.delete_instance(instance_id)
            tx.put_instance(
                Instance(
                    instance_id=instance_id,
                    name=name,
                    version=version,
                    execution_id=execution_id,
                    runtime_status="Pending",
                    input=json.dumps(input_token),
                    output=None,
                    custom_status=None,
                    created_time=now_text,
                    last_updated_time=now_text,
                    parent_instance_id=None,
                    parent_execution_id=None,
                    parent_task_id=None,
                )
            )
            started = execution_started(
                self.clock.now_datetime(),
                name=name,
                instance_id=instance_id,
                execution_id=execution_id,
                input_text=input_text,
                version=version,
                parent=None,
            )
            tx.enqueue(instance_id, execution_id, started, now_epoch)

        await self.store.run(start)
        self._history_cache.pop(instance_id, None)
        self._mark_ready(instance_id)
        log.info("Started orchestration '%s' with instance id %s", name, instance_id)
        return instance_id

    def instances_changed(
        self, instance_ids: Iterable[str], *, history_rewritten: bool = False
    ) -> None:
        """A client operation (devhost/durable/lifecycle.py) queued messages for these
        instances, or rewrote their history: run them, from the stored history if rewritten."""
        for instance_id in instance_ids:
            if history_rewritten:
                self._history_cache.pop(instance_id, None)
            self._mark_ready(instance_id)

    async def get_instance(self, instance_id: str) -> Instance | None:
        return await self.store.run(lambda tx: tx.get_instance(instance_id))

    async def get_history(self, instance_id: str) -> list[dict[str, Any]]:
        return await self.store.run(lambda tx: tx.load_history(instance_id))

    async def query(
        self,
        created_from: str | None,
        created_to: str | None,
        statuses: list[str] | None,
        prefix: str | None,
    ) -> list[Instance]:
        return await self.store.run(
            lambda tx: tx.query_instances(created_from, created_to, statuses, prefix)
        )

    async def _send(self, instance_id: str, build: Any) -> None:
        now_epoch = self.clock.now()

        def send(tx: Tx) -> None:
            inst = tx.get_instance(instance_id)
            if inst is None:
                raise InstanceNotFound(f"No instance with ID '{instance_id}' found.")
            if inst.is_terminal:
                raise InstanceGone(
                    f"The instance '{instance_id}' is {inst.runtime_status} and can no longer "
                    "receive events."
                )
            tx.enqueue(instance_id, None, build(), now_epoch)

        await self.store.run(send)
        self._mark_ready(instance_id)

    async def raise_event(self, instance_id: str, name: str, input_token: Any) -> None:
        text = json.dumps(input_token)
        await self._send(
            instance_id,
            lambda: event(EventType.EVENT_RAISED, self.clock.now_datetime(), Name=name, Input=text),
        )

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._send(
            instance_id,
            lambda: event(EventType.EXECUTION_TERMINATED, self.clock.now_datetime(), Input=reason),
        )

    async def purge(self, instance_ids: list[str]) -> int:
        def purge(tx: Tx) -> int:
            deleted = 0
            for instance_id in instance_ids:
                inst = tx.get_instance(instance_id)
                if inst is not None:  # the extension purges whatever the status
                    tx.delete_instance(instance_id)
                    deleted += 1
            return deleted

        count = await self.store.run(purge)
        for instance_id in instance_ids:
            self._history_cache.pop(instance_id, None)
        return count
