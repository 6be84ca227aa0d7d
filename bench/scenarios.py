"""Runs each scenario on a live devhost and times it from the start request to completion."""

from __future__ import annotations

import http.client
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from devhost.testing import DURABLE, DevHostError, DevHostProcess

_JSON = {"Content-Type": "application/json"}


@dataclass
class Run:
    """One orchestration's wall time and the time its activities spent in their bodies."""

    scenario: str
    instance_id: str
    size: int
    wall_s: float
    activity_s: float
    cpu_s: float | None
    raise_s: float = 0.0
    # Seconds devhost itself spent replaying (its /admin/devhost/stats), to tell a slower
    # replay inside devhost from devhost's own bookkeeping.
    live_replay_s: float = 0.0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Started(NamedTuple):
    """An orchestration just started, with the clocks read before its start request."""

    instance_id: str
    t0: float
    cpu0: float | None
    replay0: float


def _devhost_cpu(host: DevHostProcess) -> float | None:
    """devhost's CPU seconds so far."""
    return cpu_seconds(host.process.pid) if host.process is not None else None


def _start(host: DevHostProcess, name: str, size: int) -> _Started:
    """Read the clocks, then start orchestration `name` with input `size`."""
    replay0 = _live_replay(host)
    cpu0 = _devhost_cpu(host)
    t0 = time.perf_counter()
    return _Started(host.start_orchestration(name, size), t0, cpu0, replay0)


def _live_replay(host: DevHostProcess) -> float:
    """Seconds devhost has spent in orchestrator replays so far."""
    stats = host.http.get(host.url("/admin/devhost/stats"), timeout=30).json()
    return float(stats.get("replay_seconds", 0.0))


def _finish(
    host: DevHostProcess,
    name: str,
    size: int,
    started: _Started,
    raise_s: float = 0.0,
) -> Run:
    """Wait until devhost is idle, then check the instance completed and take its output."""
    host.wait_idle(timeout=600)
    wall = time.perf_counter() - started.t0
    cpu1 = _devhost_cpu(host)
    status = host.status(started.instance_id)
    if status is None or status["runtimeStatus"] != "Completed":
        raise DevHostError(f"{name} did not complete: {status}")
    cpu = cpu1 - started.cpu0 if started.cpu0 is not None and cpu1 is not None else None
    activity = float(status["output"])
    live = _live_replay(host) - started.replay0
    return Run(name, started.instance_id, size, wall, activity, cpu, raise_s, live)


def run_chain(host: DevHostProcess, size: int) -> Run:
    """`size` activities in sequence."""
    return _finish(host, "chain", size, _start(host, "chain", size))


def run_fan_out(host: DevHostProcess, size: int) -> Run:
    """`size` activities in parallel, then one fan-in."""
    return _finish(host, "fan_out", size, _start(host, "fan_out", size))


def run_events(host: DevHostProcess, size: int, clients: int) -> Run:
    """`size` external events e0.. raised over HTTP by `clients` concurrent callers."""
    started = _start(host, "events", size)
    raiser = _Raiser(host, started.instance_id)
    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(raiser, range(size)))
    finally:
        raiser.close()
    return _finish(host, "events", size, started, time.perf_counter() - started.t0)


class _Raiser:
    """Raises `e{i}` over keep-alive connections, one per client thread.

    Plain http.client rather than requests, so the client's own CPU (on the same machine)
    takes as little as possible from devhost.
    """

    def __init__(self, host: DevHostProcess, instance_id: str) -> None:
        self._port = host.port
        self._path = f"{DURABLE}/instances/{instance_id}/raiseEvent/e"
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []

    def __call__(self, i: int) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(
                "127.0.0.1", self._port, timeout=30
            )
            self._connections.append(conn)
        conn.request("POST", f"{self._path}{i}", body="null", headers=_JSON)
        response = conn.getresponse()
        text = response.read()
        if response.status != 202:
            raise DevHostError(f"raise e{i}: HTTP {response.status} {text!r}")

    def close(self) -> None:
        """Close every client connection."""
        for conn in self._connections:
            conn.close()
