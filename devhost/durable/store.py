"""Durable state in SQLite: instances, histories, the inbox of orchestration messages, work items.

One writer thread owns the connection. Operations queued while a transaction is open are
committed together (group commit), so a burst of activity completions costs one fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devhost.faults import crash_point

log = logging.getLogger("devhost.durable")
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT,
    execution_id TEXT NOT NULL,
    runtime_status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER
);
CREATE INDEX IF NOT EXISTS instances_by_status ON instances(runtime_status);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    event TEXT NOT NULL,
    visible_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox(instance_id, visible_at);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY,
    state TEXT,
    last_modified_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entity_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id TEXT NOT NULL,
    request TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_requests_by_entity ON entity_requests(entity_id, id);
"""

RUNNING_STATES = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
TERMINAL_STATES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


@dataclass
class Instance:
    instance_id: str
    name: str
    version: str | None
    execution_id: str
    runtime_status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: str
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None

    @property
    def is_terminal(self) -> bool:
        return self.runtime_status in TERMINAL_STATES


@dataclass
class InboxMessage:
    id: int
    instance_id: str
    execution_id: str | None
    event: dict[str, Any]
    visible_at: float
    # The event's JSON as stored: json.dumps of `event`, so an episode need not encode it again.
    text: str = ""


@dataclass
class WorkItem:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


_INSTANCE_COLUMNS = (
    "instance_id, name, version, execution_id, runtime_status, input, output, custom_status, "
    "created_time, last_updated_time, parent_instance_id, parent_execution_id, parent_task_id"
)


class Tx:
    """The operations available inside one transaction on the writer thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # instances
    def get_instance(self, instance_id: str) -> Instance | None:
        row = self.conn.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        return Instance(*row) if row else None

    def put_instance(self, inst: Instance) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                inst.instance_id,
                inst.name,
                inst.version,
                inst.execution_id,
                inst.runtime_status,
                inst.input,
                inst.output,
                inst.custom_status,
                inst.created_time,
                inst.last_updated_time,
                inst.parent_instance_id,
                inst.parent_execution_id,
                inst.parent_task_id,
            ),
        )

    def query_instances(
        self,
        created_from: str | None = None,
        created_to: str | None = None,
        statuses: list[str] | None = None,
        prefix: str | None = None,
    ) -> list[Instance]:
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE 1=1"
        args: list[Any] = []
        if created_from:
            sql += " AND created_time >= ?"
            args.append(created_from)
        if created_to:
            sql += " AND created_time <= ?"
            args.append(created_to)
        if statuses:
            sql += f" AND runtime_status IN ({','.join('?' * len(statuses))})"
            args.extend(statuses)
        if prefix:
            sql += " AND substr(instance_id, 1, ?) = ?"
            args.extend([len(prefix), prefix])
        sql += " ORDER BY created_time, instance_id"
        return [Instance(*row) for row in self.conn.execute(sql, args)]

    def delete_instance(self, instance_id: str) -> None:
        self.conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
        self.clear_execution(instance_id)
        self.conn.execute("DELETE FROM inbox WHERE instance_id = ?", (instance_id,))

    def clear_execution(self, instance_id: str) -> None:
        """Forget history and queued activities of the current execution."""
        self.conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        self.conn.execute("DELETE FROM work_items WHERE instance_id = ?", (instance_id,))

    # history
    def load_history(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
        )
        return [json.loads(r[0]) for r in rows]

    def append_history(
        self,
        instance_id: str,
        start_seq: int,
        events: list[dict[str, Any]],
        encoded: list[str] | None = None,
    ) -> None:
        """Append events at `start_seq`; `encoded` is their JSON when the caller has it."""
        texts = encoded if encoded is not None else [json.dumps(e) for e in events]
        self.conn.executemany(
            "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
            [(instance_id, start_seq + i, text) for i, text in enumerate(texts)],
        )

    def replace_history(self, instance_id: str, events: list[dict[str, Any]]) -> None:
        """Rewrite the current execution's history (rewind); its work items stay."""
        self.conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        self.append_history(instance_id, 0, events)

    # inbox
    def enqueue(
        self,
        instance_id: str,
        execution_id: str | None,
        event: dict[str, Any],
        visible_at: float,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO inbox (instance_id, execution_id, event, visible_at) VALUES (?,?,?,?)",
            (instance_id, execution_id, json.dumps(event), visible_at),
        )
        return int(cur.lastrowid)

    def ready_messages(self, instance_id: str, now: float) -> list[InboxMessage]:
        rows = self.conn.execute(
            "SELECT id, instance_id, execution_id, event, visible_at FROM inbox "
            "WHERE instance_id = ? AND visible_at <= ? ORDER BY id",
            (instance_id, now),
        )
        return [InboxMessage(r[0], r[1], r[2], json.loads(r[3]), r[4], r[3]) for r in rows]

    def delete_messages(self, ids: list[int]) -> None:
        self.conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    def pending_inbox(self) -> list[tuple[str, float]]:
        """(instance_id, visible_at) of every queued message, to rebuild the schedule."""
        return list(self.conn.execute("SELECT instance_id, visible_at FROM inbox"))

    # work items
    def add_work_item(
        self, instance_id: str, execution_id: str, task_id: int, name: str, input_text: str | None
    ) -> WorkItem:
        cur = self.conn.execute(
            "INSERT INTO work_items (instance_id, execution_id, task_id, name, input) "
            "VALUES (?,?,?,?,?)",
            (instance_id, execution_id, task_id, name, input_text),
        )
        return WorkItem(int(cur.lastrowid), instance_id, execution_id, task_id, name, input_text)

    def complete_work_items(
        self, done: list[tuple[WorkItem, dict[str, Any], float]]
    ) -> list[tuple[WorkItem, bool]]:
        """Delete each finished work item and queue its completion (event, visible at) for
        its instance, in one step; an item already gone (the instance was replaced or purged
        meanwhile) records nothing. Returns each item with whether it was recorded."""
        outcome: list[tuple[WorkItem, bool]] = []
        rows: list[tuple[str, str, str, float]] = []
        delete = "DELETE FROM work_items WHERE id = ?"
        for item, completion, visible_at in done:
            recorded = self.conn.execute(delete, (item.id,)).rowcount == 1
            if recorded:
                rows.append(
                    (item.instance_id, item.execution_id, json.dumps(completion), visible_at)
                )
            outcome.append((item, recorded))
        self.conn.executemany(
            "INSERT INTO inbox (instance_id, execution_id, event, visible_at) VALUES (?,?,?,?)",
            rows,
        )
        return outcome

    def work_item_exists(self, item_id: int) -> bool:
        row = self.conn.execute("SELECT 1 FROM work_items WHERE id = ?", (item_id,)).fetchone()
        return row is not None

    def delete_work_item(self, item_id: int) -> None:
        self.conn.execute("DELETE FROM work_items WHERE id = ?", (item_id,))

    def all_work_items(self) -> list[WorkItem]:
        rows = self.conn.execute(
            "SELECT id, instance_id, execution_id, task_id, name, input FROM work_items ORDER BY id"
        )
        return [WorkItem(*r) for r in rows]

    # meta
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


# Called on the writer thread after the commit with (result, error).
Settle = Callable[[Any, BaseException | None], None]


class _Op:
    __slots__ = ("fn", "settle", "sync")

    def __init__(self, fn: Callable[[Tx], Any], settle: Settle, sync: bool = True):
        self.fn = fn
        self.settle = settle
        self.sync = sync  # False: its commit need not wait for an fsync (see Store.submit)


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _settle_on(loop: asyncio.AbstractEventLoop, future: asyncio.Future) -> Settle:
    def settle(result: Any, error: BaseException | None) -> None:
        # A closed loop raises RuntimeError: nobody is waiting for the result any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    return settle


class Store:
    """Runs transactions on one writer thread; `await store.run(fn)` commits fn's changes."""

    MAX_GROUP = 512

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="devhost-store", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error:
            raise self._startup_error

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL syncs the WAL on every commit, so a committed episode survives power loss;
        # NORMAL (no fsync per commit) is offered for benchmarks that want to compare.
        conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        conn.executescript(SCHEMA)
        return conn

    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to the constructor
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        tx = Tx(conn)
        while True:
            op = self._queue.get()
            if op is None:
                break
            batch = [op]
            stop = False
            while len(batch) < self.MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(conn, tx, batch)
            if stop:
                break
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, tx: Tx, batch: list[_Op]) -> None:
        relaxed = self.fsync and not any(op.sync for op in batch)
        if relaxed:  # set between transactions only; SQLite refuses it inside one
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self._run_transaction(conn, tx, batch)
        finally:
            if relaxed:
                conn.execute("PRAGMA synchronous=FULL")

    def _run_transaction(self, conn: sqlite3.Connection, tx: Tx, batch: list[_Op]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        for op in batch:
            conn.execute("SAVEPOINT op")
            try:
                result = op.fn(tx)
            except BaseException as exc:  # one failed operation must not sink the others
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                outcomes.append((None, exc))
            else:
                conn.execute("RELEASE op")
                outcomes.append((result, None))
        crash_point("store.before_commit")
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            outcomes = [(None, exc)] * len(batch)
        crash_point("store.after_commit")
        for op, (result, error) in zip(batch, outcomes, strict=True):
            try:
                op.settle(result, error)
            except Exception:  # a callback's failure must not stop the writer
                log.exception("devhost internal error after a commit")

    async def run(self, fn: Callable[[Tx], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Op(fn, _settle_on(loop, future)))
        return await future

    def submit(
        self,
        fn: Callable[[Tx], T],
        settle: Callable[[T | None, BaseException | None], None],
        *,
        sync: bool = True,
    ) -> None:
        """Queue fn for the next group commit from any thread, without waiting; `settle` is
        called on the writer thread after the commit with (result, None) or (None, error).

        `sync=False` lets a commit made only of such operations skip its fsync (SQLite's
        synchronous=NORMAL for that transaction): it survives a crash of the process at once,
        and a power loss from the next synced commit on, which fsyncs the whole write-ahead log
        up to itself. For what may be redone if lost: an activity's completion (the activity
        runs again, as an activity may in Azure) is followed within milliseconds by the
        episode that consumes it, whose commit is synced. After an idle moment an fsync costs
        about 1 ms on a VM's disk, against 0.03 ms without (docs/benchmarks.md).
        """
        self._queue.put(_Op(fn, settle, sync))

    def run_sync(self, fn: Callable[[Tx], T]) -> T:
        """For start-up and tools outside the event loop: run fn in its own transaction."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def settle(result: Any, error: BaseException | None) -> None:
            if error is not None:
                box["error"] = error
            else:
                box["result"] = result
            done.set()

        self._queue.put(_Op(fn, settle))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["result"]

    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run a read-only fn on the calling thread over one consistent snapshot of what is
        committed, on that thread's own connection (WAL lets it read while the writer
        writes). Saves the engine a round trip to the writer thread per episode."""
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._readers.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        conn.execute("BEGIN")
        try:
            return fn(Tx(conn))
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        with self._lock:
            readers, self._reader_conns = self._reader_conns, []
        for conn in readers:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
