"""Runs each scenario on a live devhost and times it from the start request to completion."""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from devhost.testing import DURABLE, DevHostError, DevHostProcess


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
    # Of those, the seconds the replay worker spent in the invocations themselves (None when
    # replays ran in devhost's own process): the run's own floor.
    worker_replay_s: float | None = None


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
    worker0: float | None


def _devhost_cpu(host: DevHostProcess) -> float | None:
    """devhost's CPU seconds so far."""
    return cpu_seconds(host.process.pid) if host.process is not None else None


def _start(host: DevHostProcess, name: str, size: int) -> _Started:
    """Read the clocks, then start orchestration `name` with input `size`."""
    replay0, worker0 = _replay_clocks(host)
    cpu0 = _devhost_cpu(host)
    t0 = time.perf_counter()
    return _Started(host.start_orchestration(name, size), t0, cpu0, replay0, worker0)


def _replay_clocks(host: DevHostProcess) -> tuple[float, float | None]:
    """Seconds devhost has spent in orchestrator replays so far, and of those the seconds
    its replay worker spent in the invocations (None without a worker)."""
    stats = host.http.get(host.url("/admin/devhost/stats"), timeout=30).json()
    worker = stats.get("worker_replay_seconds")
    return float(stats.get("replay_seconds", 0.0)), None if worker is None else float(worker)


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
    replay1, worker1 = _replay_clocks(host)
    worker = None if worker1 is None else worker1 - (started.worker0 or 0.0)
    live = replay1 - started.replay0
    return Run(name, started.instance_id, size, wall, activity, cpu, raise_s, live, worker)


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

    Raw HTTP/1.1 on a socket, a request written in one send and its response read with just
    enough parsing for the status and the body's length: the client shares the machine's
    CPUs with devhost and its replay worker, so it should take as little of them as it can
    (http.client costs several times more per request, most of it parsing headers).
    """

    def __init__(self, host: DevHostProcess, instance_id: str) -> None:
        self._port = host.port
        self._path = f"{DURABLE}/instances/{instance_id}/raiseEvent/e"
        self._local = threading.local()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __call__(self, i: int) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = socket.create_connection(("127.0.0.1", self._port), 30)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.buffer = b""
            with self._lock:
                self._sockets.append(conn)
        conn.sendall(
            f"POST {self._path}{i} HTTP/1.1\r\nHost: 127.0.0.1:{self._port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 4\r\n\r\nnull".encode()
        )
        status, body = self._response(conn)
        if status != 202:
            raise DevHostError(f"raise e{i}: HTTP {status} {body!r}")

    def _response(self, conn: socket.socket) -> tuple[int, bytes]:
        """Read one response: its status code and body (Content-Length framed)."""
        buffer: bytes = self._local.buffer
        while b"\r\n\r\n" not in buffer:
            buffer += self._receive(conn)
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buffer) < length:
            buffer += self._receive(conn)
        self._local.buffer = buffer[length:]
        return status, buffer[:length]

    @staticmethod
    def _receive(conn: socket.socket) -> bytes:
        data = conn.recv(65536)
        if not data:
            raise DevHostError("devhost closed the connection")
        return data

    def close(self) -> None:
        """Close every client connection."""
        for conn in self._sockets:
            conn.close()
