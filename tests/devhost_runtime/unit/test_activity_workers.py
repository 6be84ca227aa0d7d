"""ActivityWorkers runs up to maxConcurrentActivityFunctions work items at once, as the host
does, however submissions interleave with its threads taking items."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from devhost.durable.activities import ActivityWorkers, Finished
from devhost.durable.store import Store, WorkItem


def _item(number: int) -> WorkItem:
    return WorkItem(number, f"instance-{number}", "execution", number, "activity", None)


def test_items_submitted_one_after_another_run_at_once_up_to_the_limit(tmp_path: Path) -> None:
    """A thread left idle by a quick item, then blocking items submitted one by one: each gets
    a thread of its own. (Counting the idle thread against each submission alone left the
    second waiting behind the first whenever the idle thread had not taken the first yet: two
    orders' payments ran and two waited.)"""
    store = Store(tmp_path / "state.sqlite3", fsync=False)
    release = threading.Event()
    started: list[int] = []
    all_started = threading.Event()
    finished: Finished = []
    quick_done = threading.Event()
    limit = 4

    def run(item: WorkItem) -> tuple[dict[str, Any], float]:
        if item.id > 0:
            started.append(item.id)
            if len(started) == limit:
                all_started.set()
            assert release.wait(30)
        return {}, 0.0

    def on_finished(batch: Finished) -> None:
        finished.extend(batch)
        if any(item.id == 0 for item, _ in batch):
            quick_done.set()

    workers = ActivityWorkers(store, limit, run, on_finished)
    try:
        workers.submit([_item(0)])
        assert quick_done.wait(10)
        for number in range(1, limit + 1):
            workers.submit([_item(number)])
        assert all_started.wait(10), f"only {sorted(started)} of {limit} running at once"
    finally:
        release.set()
        workers.stop()
        store.close()
