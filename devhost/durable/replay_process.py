"""Orchestrator replays in a worker process of their own, as the worker is apart from the host.

In Azure the Functions host (HTTP, queues, storage) and the Python worker (the app's code) are
two processes. devhost is one, so a CPU-bound replay shares one GIL with the HTTP handling and
the SQLite writer, and each slows the other down. This module runs the replays in a child
process that imports the app the same way: the host sends the orchestration trigger's input,
the child answers with the SDK's state JSON or the invocation's failure message.

Orchestrators are deterministic and keep no state between episodes, and in Azure an episode and
its activities may already run in different worker processes (several instances), so nothing an
app may rely on changes. The child's stdout and stderr are the host's: its log lines land in the
same console. Requests and answers travel on a pair of pipes of their own, as length-prefixed
JSON, and the child exits when the host's end closes (including when the host is killed).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("devhost.durable")

# A frame: a kind byte, a 4-byte length, then that many bytes of UTF-8 text. Requests are the
# orchestrator's name frame then its context frame; answers a state or an error frame. Raw
# text, not JSON around it, so a large history is not escaped and unescaped on every replay.
_HEADER = struct.Struct(">cI")
NAME, CONTEXT, STATE, ERROR, NONE = b"n", b"c", b"s", b"e", b"-"


def _write_frames(stream: BinaryIO, *frames: tuple[bytes, str]) -> None:
    for kind, text in frames:
        data = text.encode("utf-8")
        stream.write(_HEADER.pack(kind, len(data)))
        stream.write(data)
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
    """The SDK's state JSON, or the failure message of the invocation."""

    state_text: str | None
    error: str | None = None


class ReplayProcess:
    """The host's side: one child process, one replay at a time, in request order."""

    def __init__(self, app_dir: Path, log_level: str) -> None:
        self._app_dir = app_dir
        self._log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: BinaryIO | None = None
        self._answers: BinaryIO | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child; it imports the app before it answers the first request."""
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
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
        self._requests = os.fdopen(request_write, "wb")
        self._answers = os.fdopen(answer_read, "rb")

    def _exchange(self, name: str, context_json: str) -> ReplayAnswer:
        assert self._requests is not None and self._answers is not None
        with self._lock:
            _write_frames(self._requests, (NAME, name), (CONTEXT, context_json))
            answer = _read_frame(self._answers)
        if answer is None:
            code = self._process.poll() if self._process else None
            raise RuntimeError(f"the replay process exited (code {code})")
        kind, text = answer
        if kind == ERROR:
            return ReplayAnswer(None, text)
        return ReplayAnswer(text if kind == STATE else None)

    async def replay(self, name: str, context_json: str) -> ReplayAnswer:
        """Replay orchestrator `name` on `context_json` in the child."""
        return await asyncio.to_thread(self._exchange, name, context_json)

    def stop(self) -> None:
        """Close the pipes (the child exits on end of input) and wait for it briefly."""
        for stream in (self._requests, self._answers):
            if stream is not None:
                stream.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


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
            _write_frames(answers, (ERROR, f"orchestrator '{name[1]}' is not defined"))
            continue
        inputs = {fn.trigger["name"]: meta.Datum(context[1], "string")}
        try:
            result = invoker.invoke_here(fn, inputs)
        except FunctionInvocationError as exc:
            _write_frames(answers, (ERROR, exc.message))
            continue
        value = result.return_value.value if result.return_value else None
        _write_frames(answers, (STATE, value) if isinstance(value, str) else (NONE, ""))


def main(argv: list[str]) -> int:
    app_dir, request_fd, answer_fd, level = argv
    logging.basicConfig(
        level=getattr(logging, level), format="[%(asctime)s] %(message)s", stream=sys.stdout
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    sys.setswitchinterval(0.005)  # nothing else runs here: let the replay keep the GIL
    with os.fdopen(int(request_fd), "rb") as requests, os.fdopen(int(answer_fd), "wb") as answers:
        _serve(Path(app_dir), requests, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
