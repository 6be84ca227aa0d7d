"""Activity work items on dedicated threads, their completions recorded in batches.

An asyncio task, a thread-pool future and a store round trip per activity cost about 0.2 ms
each, which dominated a 1,000-activity fan-out. Here up to maxConcurrentActivityFunctions
threads each take one work item at a time from a queue, invoke the function (a sync one on
the thread itself, an async one on the event loop while the thread waits, so both count
against the limit), and leave the completion for the store's next group commit: one
transaction records every completion that is waiting, and the engine hears about them in one
call on its loop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from devhost.durable.store import Store, Tx, WorkItem
from devhost.faults import crash_point

log = logging.getLogger("devhost.durable")

# (work item, whether its completion is now in the store) for every item that finished.
Finished = list[tuple[WorkItem, bool]]


class ActivityWorkers:
    """Threads that run activity work items; see the module docstring."""

    def __init__(
        self,
        store: Store,
        limit: int,
        run: Callable[[WorkItem], tuple[dict[str, Any], float]],
        finished: Callable[[Finished], None],
        sync_limit: int | None = None,
    ) -> None:
        """`run` turns a work item into its completion event and the time it becomes visible,
        on a worker thread; `finished`
        is called (from the store's writer thread) once completions are committed.
        `sync_limit` additionally bounds how many run at once (the worker's thread count)."""
        self._store = store
        self._limit = limit
        self._run = run
        self._finished = finished
        self._items: queue.SimpleQueue[WorkItem | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        # Items submitted and not yet taken by a thread. A thread counts as idle until it has
        # taken an item, so the two drop together: comparing them, a submission that arrives
        # while an idle thread is still waking for an earlier item starts a thread of its own.
        self._untaken = 0
        self._throttle = (
            threading.BoundedSemaphore(sync_limit)
            if sync_limit is not None and sync_limit < limit
            else None
        )
        self._pending: list[tuple[WorkItem, dict[str, Any], float]] = []
        self._flush_queued = False
        self._stopping = False

    def submit(self, items: list[WorkItem]) -> None:
        """Queue work items; threads are started, as the limit allows, for the items that no
        idle thread will take."""
        with self._lock:
            self._untaken += len(items)
            for item in items:
                self._items.put(item)
            wanted = min(self._limit, len(self._threads) + max(0, self._untaken - self._idle))
            for _ in range(wanted - len(self._threads)):
                thread = threading.Thread(
                    target=self._work,
                    name=f"devhost-activity-{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(thread)
                self._idle += 1  # counted idle until it takes its first item
                thread.start()

    def stop(self) -> None:
        """Take no more items; completions that arrive from now on are not recorded (the
        work items stay in the store and run again after a restart, as before a crash)."""
        self._stopping = True
        for _ in self._threads:
            self._items.put(None)

    def _work(self) -> None:
        while True:
            item = self._items.get()
            if item is None or self._stopping:
                return
            with self._lock:
                self._idle -= 1
                self._untaken -= 1
            try:
                self._one(item)
            finally:
                with self._lock:
                    self._idle += 1

    def _one(self, item: WorkItem) -> None:
        try:
            if self._throttle is not None:
                with self._throttle:
                    completion, visible_at = self._run(item)
            else:
                completion, visible_at = self._run(item)
        except Exception:
            log.exception("devhost internal error running activity work item %s", item.id)
            self._finished([(item, False)])
            return
        crash_point("activity.after_invoke")
        if self._stopping:
            return
        with self._lock:
            self._pending.append((item, completion, visible_at))
            if self._flush_queued:
                return  # the queued flush will take this completion too
            self._flush_queued = True
        self._queue_flush()

    def _queue_flush(self) -> None:
        """One store operation that records every completion waiting when it runs."""
        taken: list[WorkItem] = []

        def flush(tx: Tx) -> Finished:
            with self._lock:
                batch, self._pending = self._pending, []
                self._flush_queued = False
            taken.extend(item for item, _, _ in batch)
            return tx.complete_work_items(batch)

        def flushed(result: Finished | None, error: BaseException | None) -> None:
            if error is not None:
                # Nothing was recorded; the work items stay in the store for the next start.
                log.error("devhost internal error recording activity completions", exc_info=error)
                self._finished([(item, False) for item in taken])
            else:
                self._finished(result or [])

        # Unsynced: the episode that consumes these completions commits with an fsync.
        self._store.submit(flush, flushed, sync=False)
