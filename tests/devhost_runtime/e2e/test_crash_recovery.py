"""devhost survives kill -9 anywhere: outputs equal a clean run; no persisted work is redone."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from devhost.testing import DevHostError, DevHostProcess

APP = Path(__file__).resolve().parents[2] / "apps" / "crash_workload"
CRASH_POINTS = [
    "store.before_commit",
    "store.after_commit",
    "episode.after_replay",
    "activity.after_invoke",
]
MIN_KILLS = 22
SEED = 20261121
WORKLOAD_INPUT = {"name": "w", "round": 0, "results": []}


def persisted_completions(db: Path) -> set[str]:
    """Activity keys whose completion is durably recorded (in a history or in an inbox)."""
    conn = sqlite3.connect(db)
    try:
        rows = list(conn.execute("SELECT event FROM history UNION ALL SELECT event FROM inbox"))
    finally:
        conn.close()
    keys = set()
    for (text,) in rows:
        ev = json.loads(text)
        if ev["EventType"] == 5:  # TaskCompleted; the step activity returns its own key
            keys.add(json.loads(ev["Result"])["key"])
    return keys


def journal_keys(journal: Path) -> list[str]:
    if not journal.exists():
        return []
    return [json.loads(line)["key"] for line in journal.read_text().splitlines() if line]


def run_uninterrupted(tmp_path: Path) -> list[int]:
    journal = tmp_path / "baseline.jsonl"
    with DevHostProcess(
        APP, state_dir=tmp_path / "baseline", env={"CRASH_JOURNAL": str(journal)}
    ) as host:
        status = host.run_orchestration("workload", WORKLOAD_INPUT, instance_id="baseline")
    assert status["runtimeStatus"] == "Completed", status
    keys = journal_keys(journal)
    assert len(keys) == len(set(keys)) == 32  # one execution per activity without crashes
    return status["output"]


class CrashCampaign:
    """Restarts devhost after every kill and keeps workloads running until enough kills."""

    def __init__(self, tmp_path: Path, rng: random.Random) -> None:
        self.rng = rng
        self.journal = tmp_path / "journal.jsonl"
        self.state = tmp_path / "state"
        self.host = DevHostProcess(
            APP, state_dir=self.state, env={"CRASH_JOURNAL": str(self.journal)}
        )
        self.kills: list[str] = []
        # (journal length at the kill, keys whose completion was persisted by then)
        self.checkpoints: list[tuple[int, set[str]]] = []
        self.outputs: dict[str, list[int]] = {}
        self.instance_index = 0

    @property
    def current_instance(self) -> str:
        return f"crash-{self.instance_index}"

    def _record_kill(self, how: str) -> None:
        self.host.kill()
        self.kills.append(how)
        self.checkpoints.append(
            (len(journal_keys(self.journal)), persisted_completions(self.state / "durable.sqlite3"))
        )

    def _choose_fault(self) -> tuple[dict[str, str], float | None, str]:
        if len(self.kills) >= MIN_KILLS:
            return {}, None, "none"
        if len(self.kills) < len(CRASH_POINTS):  # every point at least once, then at random
            point = CRASH_POINTS[len(self.kills)]
            hit = self.rng.randint(2, 10)
            return {"DEVHOST_CRASH_AT": f"{point}:{hit}"}, None, f"{point}:{hit}"
        if self.rng.random() < 0.3:
            delay = self.rng.uniform(0.05, 0.6)
            return {}, delay, f"timed:{delay:.2f}s"
        point = self.rng.choice(CRASH_POINTS)
        hit = self.rng.randint(1, 10)
        return {"DEVHOST_CRASH_AT": f"{point}:{hit}"}, None, f"{point}:{hit}"

    def _ensure_started(self) -> None:
        if self.host.status(self.current_instance) is None:
            self.host.start_orchestration("workload", WORKLOAD_INPUT, self.current_instance)

    def round(self) -> None:
        env, delay, how = self._choose_fault()
        try:
            self.host.start(env={"DEVHOST_CRASH_AT": "", **env})
        except DevHostError:
            self._record_kill(how + " (during start-up)")
            return
        started = time.monotonic()
        try:
            while True:
                if self.host.process is None or self.host.process.poll() is not None:
                    self._record_kill(how)
                    return
                if delay is not None and time.monotonic() - started >= delay:
                    self._record_kill(how)
                    return
                self._ensure_started()
                status = self.host.status(self.current_instance)
                if status and status["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
                    self.outputs[self.current_instance] = status
                    self.instance_index += 1
                    if len(self.kills) >= MIN_KILLS:
                        self.host.stop()
                        return
                time.sleep(0.01)
        except (requests.ConnectionError, DevHostError):
            # devhost died while answering: the crash point fired mid-request.
            self._record_kill(how)


@pytest.mark.slow
def test_kill_9_at_random_points_changes_nothing(tmp_path: Path) -> None:
    expected = run_uninterrupted(tmp_path)
    campaign = CrashCampaign(tmp_path, random.Random(SEED))
    deadline = time.monotonic() + 240
    try:
        while len(campaign.kills) < MIN_KILLS or campaign.host.process is not None:
            assert time.monotonic() < deadline, f"campaign too slow; kills: {campaign.kills}"
            campaign.round()
    finally:
        campaign.host.close()

    assert len(campaign.kills) >= MIN_KILLS
    assert campaign.outputs, "no workload completed"
    for instance_id, status in campaign.outputs.items():
        assert status["runtimeStatus"] == "Completed", (instance_id, status)
        assert status["output"] == expected, instance_id

    keys = journal_keys(campaign.journal)
    for at, persisted in campaign.checkpoints:
        rerun = persisted.intersection(keys[at:])
        assert not rerun, f"completions persisted before a kill ran again: {sorted(rerun)}"
    # Every activity of every completed workload ran at least once.
    for instance_id in campaign.outputs:
        for round_ in (0, 1):
            assert f"{instance_id}/w-round{round_}-after-timer" in keys
            assert f"{instance_id}/w-round{round_}-sub-2" in keys
    # A kill between an activity's side effect and its recorded result makes it run again:
    # at-least-once, as in Azure. Those are the only repeats the checkpoints above allow.
    assert len(keys) > len(set(keys))
    print(f"{len(campaign.kills)} kills: {campaign.kills}")
