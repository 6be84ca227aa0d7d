"""Orchestrator replays in a worker process of their own, as the worker is apart from the host.

In Azure the Functions host (HTTP, queues, storage) and the Python worker (the app's code) are
two processes. In one process a CPU-bound replay shares one GIL with the HTTP handling and the
SQLite writer, and each slows the other down. So by default devhost runs the replays in a child
process that imports the app the same way: the host sends the orchestration trigger's input,
the child answers with the time the invocation took and the SDK's state JSON or the
invocation's failure message.

Orchestrators are deterministic and keep no state between episodes, and in Azure an episode and
its activities may already run in different worker processes (several instances), so nothing an
app may rely on changes. The child's stdout and stderr are the host's: its log lines land in the
same console. Requests and answers travel on a pair of pipes of their own, as length-prefixed
JSON, and the child exits when the host's end closes (including when the host is killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("devhost.durable")

# A frame: a kind byte, a 4-byte length, then that many bytes of UTF-8 text. Requests are the
# orchestrator's name frame then its context frame; answers a seconds frame (how long the
# invocation took inside the worker) then a state or an error frame. Raw text, not JSON around
# it, so a large history is not escaped and unescaped on every replay.
_HEADER = struct.Struct(">cI")
NAME, CONTEXT, SECONDS, STATE, ERROR, NONE = b"n", b"c", b"t", b"s", b"e", b"-"


def _write_frames(stream: BinaryIO, *frames: tuple[bytes, str]) -> None:
    stream.write(_frames(*frames))
    stream.flush()


def _read_frame(stream: BinaryIO) -> tuple[bytes, str] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the other end closed
    kind, size = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return kind, data.decode("utf-8")


@dataclass(frozen=True)
class ReplayAnswer:
    """The SDK's state JSON, or the failure message of the invocation, and how long the
    invocation took inside the worker (the replay alone, without the pipes around it)."""

    state_text: str | None
    error: str | None = None
    seconds: float = 0.0


class ReplayWorkerLost(RuntimeError):
    """The worker exited (killed, out of memory, the app called os._exit) before answering.

    Nothing of the episode was recorded: the engine runs it again, and the next replay starts
    a new worker, as the Functions host restarts a language worker that died.
    """

    def __init__(self, code: int | None) -> None:
        super().__init__(f"the replay worker exited (code {code}) before it answered")
        self.code = code


class ReplayProcess:
    """The host's side: one child process, one replay at a time, in request order.

    The exchange runs on the event loop itself: the request is written to the pipe at once
    (its buffer is enlarged to hold a typical context whole, and the child is always waiting
    to read) and the answer is awaited on the loop's selector. A thread in between would add
    two more wake-ups per replay, and on a VM whose cores idle during a replay each one costs
    0.1-0.3 ms.
    """

    def __init__(self, app_dir: Path, log_level: str) -> None:
        self._app_dir = app_dir
        self._log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None
        self._request_fd: int | None = None
        self._answer_fd: int | None = None
        self._answers: asyncio.StreamReader | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._lock: asyncio.Lock | None = None
        self._lost = False

    def start(self) -> None:
        """Start the child; it imports the app before it answers the first request."""
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        for fd in (request_write, answer_write):
            _enlarge_pipe(fd)
        command = [
            sys.executable,
            "-m",
            "devhost.durable.replay_process",
            str(self._app_dir),
            str(request_read),
            str(answer_write),
            self._log_level,
        ]
        self._process = subprocess.Popen(command, pass_fds=(request_read, answer_write))
        os.close(request_read)
        os.close(answer_write)
        self._request_fd, self._answer_fd = request_write, answer_read

    async def replay(self, name: str, context_json: str) -> ReplayAnswer:
        """Replay orchestrator `name` on `context_json` in the child."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._lost:
                self._restart()
            answers = await self._connected()
            try:
                self._write(_frames((NAME, name), (CONTEXT, context_json)))
                timing = await _read_frame_async(answers)
                answer = await _read_frame_async(answers)
            except (OSError, asyncio.IncompleteReadError) as exc:
                self._lost = True
                raise ReplayWorkerLost(self._exit_code()) from exc
        seconds = float(timing[1])
        kind, text = answer
        if kind == ERROR:
            return ReplayAnswer(None, text, seconds)
        return ReplayAnswer(text if kind == STATE else None, None, seconds)

    async def _connected(self) -> asyncio.StreamReader:
        """The answer pipe as a stream read on the running loop (connected on first use)."""
        if self._answers is None:
            assert self._answer_fd is not None, "start() first"
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=2**31)
            pipe = os.fdopen(self._answer_fd, "rb", buffering=0)
            self._transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
            self._answers = reader
        return self._answers

    def _write(self, data: bytes) -> None:
        """Write a whole request; the child reads as it comes, so this never waits long."""
        assert self._request_fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._request_fd, view) :]

    def _exit_code(self) -> int | None:
        """The lost worker's exit code, once it has exited (a moment after its pipe closed)."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def _restart(self) -> None:
        """Replace a lost worker with a new one."""
        log.warning("Starting a new replay worker: the last one exited")
        self.stop()
        self._answers = None
        self._lost = False
        self.start()

    def stop(self) -> None:
        """Close the pipes (the child exits on end of input) and wait for it briefly."""
        if self._request_fd is not None:
            os.close(self._request_fd)
            self._request_fd = None
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                self._transport.close()
            self._transport = None
        elif self._answer_fd is not None:
            os.close(self._answer_fd)
        self._answer_fd = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _enlarge_pipe(fd: int) -> None:
    """Let a pipe hold 1 MiB (Linux), so a context or an answer goes through in one write
    instead of 64 KiB at a time, each waiting for the other side to wake and read."""
    with contextlib.suppress(AttributeError, OSError):  # other systems; a lower pipe-max-size
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)


def _frames(*frames: tuple[bytes, str]) -> bytes:
    """Frames as one buffer, to be written at once."""
    parts = []
    for kind, text in frames:
        data = text.encode("utf-8")
        parts += [_HEADER.pack(kind, len(data)), data]
    return b"".join(parts)


async def _read_frame_async(stream: asyncio.StreamReader) -> tuple[bytes, str]:
    kind, size = _HEADER.unpack(await stream.readexactly(_HEADER.size))
    return kind, (await stream.readexactly(size)).decode("utf-8")


def _serve(app_dir: Path, requests: BinaryIO, answers: BinaryIO) -> None:
    """The child's loop: import the app once, then answer replay requests until end of input."""
    from azure.functions import meta

    from devhost.indexing import load_and_index
    from devhost.invoker import FunctionInvocationError, Invoker
    from devhost.servicebus import sdk_shim
    from devhost.telemetry import install_span_file

    sdk_shim.install(app_dir)
    install_span_file(os.environ)
    functions = load_and_index(app_dir)
    orchestrators = {
        fn.durable_name or fn.name: fn
        for fn in functions
        if fn.trigger_type == "orchestrationTrigger"
    }
    invoker = Invoker(asyncio.new_event_loop(), str(app_dir), max_threads=1)
    # As in the host: the app and the SDKs live as long as the process; keep them out of the
    # cyclic GC's generations so collections during replays do not walk them again and again.
    gc.freeze()
    while (name := _read_frame(requests)) is not None:
        context = _read_frame(requests)
        if context is None:
            return
        fn = orchestrators.get(name[1])
        if fn is None:
            _write_frames(
                answers, (SECONDS, "0"), (ERROR, f"orchestrator '{name[1]}' is not defined")
            )
            continue
        inputs = {fn.trigger["name"]: meta.Datum(context[1], "string")}
        started = time.perf_counter()
        try:
            result = invoker.invoke_here(fn, inputs)
        except FunctionInvocationError as exc:
            _write_frames(answers, _seconds_since(started), (ERROR, exc.message))
            continue
        value = result.return_value.value if result.return_value else None
        answer = (STATE, value) if isinstance(value, str) else (NONE, "")
        _write_frames(answers, _seconds_since(started), answer)


def _seconds_since(started: float) -> tuple[bytes, str]:
    """The seconds frame: the invocation's time in the worker, for devhost's replay stats."""
    return SECONDS, repr(time.perf_counter() - started)


def main(argv: list[str]) -> int:
    app_dir, request_fd, answer_fd, level = argv
    # Ctrl+C reaches the whole process group. The host owns the stop: it closes the pipe and
    # this loop ends on end of input, so the worker ignores SIGINT rather than dying mid-read
    # with a KeyboardInterrupt traceback in the console.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=getattr(logging, level), format="[%(asctime)s] %(message)s", stream=sys.stdout
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    sys.setswitchinterval(0.005)  # nothing else runs here: let the replay keep the GIL
    try:
        with (
            os.fdopen(int(request_fd), "rb") as requests,
            os.fdopen(int(answer_fd), "wb") as answers,
        ):
            _serve(Path(app_dir), requests, answers)
    except BrokenPipeError:
        pass  # the host stopped while this worker answered: nothing is waiting for it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
