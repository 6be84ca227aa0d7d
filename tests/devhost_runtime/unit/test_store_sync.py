"""Store.submit(sync=False): a commit made only of such operations skips its fsync, no other."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from devhost.durable.store import Store, Tx

FULL, NORMAL = 2, 1


def _level(tx: Tx) -> int:
    return int(tx.conn.execute("PRAGMA synchronous").fetchone()[0])


def _submit_and_wait(store: Store, fn: Any, *, sync: bool) -> Any:
    done = threading.Event()
    box: dict[str, Any] = {}

    def settle(result: Any, error: BaseException | None) -> None:
        box["result"], box["error"] = result, error
        done.set()

    store.submit(fn, settle, sync=sync)
    assert done.wait(10)
    assert box["error"] is None
    return box["result"]


def test_only_a_batch_of_unsynced_operations_commits_without_fsync(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3", fsync=True)
    try:
        assert _submit_and_wait(store, _level, sync=False) == NORMAL
        assert store.run_sync(_level) == FULL  # restored for the next commit
        assert _submit_and_wait(store, _level, sync=True) == FULL

        # Hold the writer so the next two operations share one group commit.
        holding, release = threading.Event(), threading.Event()

        def hold(tx: Tx) -> None:
            holding.set()
            assert release.wait(10)

        store.submit(hold, lambda result, error: None)
        assert holding.wait(10)
        levels: list[int] = []
        settled = threading.Semaphore(0)
        for sync in (False, True):
            store.submit(
                lambda tx: levels.append(_level(tx)),
                lambda result, error: settled.release(),
                sync=sync,
            )
        release.set()
        assert settled.acquire(timeout=10) and settled.acquire(timeout=10)
        assert levels == [FULL, FULL]  # one synced operation makes the whole commit synced
    finally:
        store.close()


def test_without_fsync_every_commit_stays_unsynced(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3", fsync=False)
    try:
        assert _submit_and_wait(store, _level, sync=False) == NORMAL
        assert _submit_and_wait(store, _level, sync=True) == NORMAL
    finally:
        store.close()
