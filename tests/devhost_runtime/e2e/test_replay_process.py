"""Orchestrator replays in a worker process of their own (the default; `--replay-process`).

The whole feature suite (tests/devhost_runtime/e2e/test_orchestrations.py) runs in both modes;
these tests cover what only this mode has: the worker's lines in devhost's console, the replay
time the worker reports, durable state and results across a restart, no worker left behind when
devhost is killed, and none started with `--no-replay-process`.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from devhost.testing import DevHostProcess

APP = Path(__file__).resolve().parents[2] / "apps" / "durable_features"


def _workers(host: DevHostProcess) -> list[int]:
    """Pids of devhost's replay worker processes (Linux /proc)."""
    assert host.process is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == host.process.pid and "devhost.durable.replay_process" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"replay worker {pid} is still running"
        time.sleep(0.05)


def test_replays_run_in_one_worker_process_whose_lines_reach_the_console(
    tmp_path: Path,
) -> None:
    env = {"FEATURES_JOURNAL": str(tmp_path / "journal.jsonl")}
    with DevHostProcess(APP, state_dir=tmp_path / "state", env=env) as host:
        [worker] = _workers(host)
        status = host.run_orchestration("chain", ["Tokyo", "Seattle"])
        assert status["output"] == ["Hello Tokyo", "Hello Seattle"]
        # The worker times each replay itself; the host's figure adds the pipes around it.
        stats = host.http.get(host.url("/admin/devhost/stats"), timeout=30).json()
        assert stats["episodes"] == 3
        assert 0 < stats["worker_replay_seconds"] < stats["replay_seconds"]
        # The worker logs each replay as the worker does; the lines land in devhost's output.
        assert host.logs().count("Executing 'Functions.chain'") == 3  # one per episode
        failed = host.run_orchestration("raises")
        assert failed["output"] == "Orchestrator function 'raises' failed: orchestrator gave up"
        assert _alive(worker)
    _wait_gone(worker)


def test_killing_devhost_ends_its_worker_and_a_restart_carries_on(tmp_path: Path) -> None:
    env = {"FEATURES_JOURNAL": str(tmp_path / "journal.jsonl")}
    host = DevHostProcess(
        APP,
        state_dir=tmp_path / "state",
        env=env,
        extra_args=["--replay-process"],
    )
    host.start()
    try:
        [worker] = _workers(host)
        instance_id = host.start_orchestration("approval", 3600)
        host.wait_for(instance_id, frozenset({"Running"}))
        assert host.process is not None
        os.kill(host.process.pid, signal.SIGKILL)
        host.process.wait(timeout=10)
        _wait_gone(worker)  # its pipe closed: it exits on its own
        host.start()
        host.raise_event(instance_id, "Approval", {"approved": True})
        status = host.wait_for(instance_id, timeout=30)
        assert status["output"] == {"decision": {"approved": True}}
    finally:
        host.close()


def test_ctrl_c_stops_devhost_and_its_worker_without_a_traceback(tmp_path: Path) -> None:
    env = {"FEATURES_JOURNAL": str(tmp_path / "journal.jsonl")}
    host = DevHostProcess(APP, state_dir=tmp_path / "state", env=env)
    host.start()
    try:
        [worker] = _workers(host)
        assert host.run_orchestration("chain", ["Tokyo"])["output"] == ["Hello Tokyo"]
        assert host.process is not None
        # Ctrl+C in a terminal sends SIGINT to the whole foreground process group.
        os.killpg(host.process.pid, signal.SIGINT)
        assert host.process.wait(timeout=20) == 0
        _wait_gone(worker)
        logs = host.logs()
        assert "Stopping devhost" in logs
        assert "Traceback" not in logs and "KeyboardInterrupt" not in logs, logs[-3000:]
    finally:
        host.close()


def test_no_worker_with_no_replay_process(tmp_path: Path) -> None:
    env = {"FEATURES_JOURNAL": str(tmp_path / "journal.jsonl")}
    with DevHostProcess(
        APP, state_dir=tmp_path / "state", env=env, extra_args=["--no-replay-process"]
    ) as host:
        assert _workers(host) == []
        status = host.run_orchestration("chain", ["Tokyo"])
        assert status["output"] == ["Hello Tokyo"]
        stats = host.http.get(host.url("/admin/devhost/stats"), timeout=30).json()
        assert stats["replay_seconds"] > 0
        assert "worker_replay_seconds" not in stats


def test_a_worker_that_dies_mid_episode_is_replaced_and_the_episode_runs_again(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    with DevHostProcess(
        APP, state_dir=tmp_path / "state", env={"FEATURES_JOURNAL": str(journal)}
    ) as host:
        [first_worker] = _workers(host)
        status = host.run_orchestration("kills_its_worker_once", timeout=60)
        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == ["Hello before", "Hello after"]
        assert journal.with_suffix(".worker-killed").exists()  # it did die once
        _wait_gone(first_worker)
        [second_worker] = _workers(host)
        assert second_worker != first_worker
        logs = host.logs()
        assert "the replay worker exited (code 3) before it answered" in logs
        assert "Starting a new replay worker" in logs
        # Nothing of the lost episode was recorded: the activity before it ran once.
        entries = [json.loads(line) for line in journal.read_text().splitlines()]
        assert [e["input"] for e in entries] == ["before", "after"]
        # The new worker serves the next orchestrations as the first did.
        again = host.run_orchestration("chain", ["Tokyo"])
        assert again["output"] == ["Hello Tokyo"]


def test_a_worker_killed_while_idle_is_replaced_on_the_next_replay(tmp_path: Path) -> None:
    env = {"FEATURES_JOURNAL": str(tmp_path / "journal.jsonl")}
    with DevHostProcess(APP, state_dir=tmp_path / "state", env=env) as host:
        [worker] = _workers(host)
        os.kill(worker, signal.SIGKILL)
        _wait_gone(worker)
        status = host.run_orchestration("chain", ["Tokyo", "Seattle"], timeout=60)
        assert status["output"] == ["Hello Tokyo", "Hello Seattle"]
        assert len(_workers(host)) == 1
