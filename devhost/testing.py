"""Python API for tests: run devhost on an app directory in a child process, drive it over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from azure.core.exceptions import ResourceNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
DURABLE = "/runtime/webhooks/durabletask"


def linked_app(folder: Path, *, settings: str | None = None, skip: set[str] = frozenset()) -> Path:
    """A copy of the repository's app in `folder`, made of links, without the developer's own
    `local.settings.json` (or anything else named in `skip`, or hidden): tests never read what a
    developer created. `settings` becomes its local.settings.json when given (the example's
    text, as `make run` gives a newcomer). The folder is made if needed."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in PROJECT_ROOT.iterdir():
        hidden = entry.name.startswith(".")
        if entry.name != "local.settings.json" and entry.name not in skip and not hidden:
            (folder / entry.name).symlink_to(entry)
    if settings is not None:
        (folder / "local.settings.json").write_text(settings, encoding="utf-8")
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], Any],
    timeout: float = 60,
    what: str | Callable[[], str] = "condition",
    *,
    interval: float = 0.05,
) -> Any:
    """Poll `condition` until it returns something truthy, and return that; fail the test with
    `what` (or what it returns, e.g. the log's tail) after `timeout` seconds. Tests wait on what
    they can observe with this, never on a fixed sleep (a generous timeout costs nothing when the
    condition holds early)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"{said} not met within {timeout} s")
        time.sleep(interval)


def stand_in_settled(storage_connection_string: str, path: str) -> bool:
    """True when the Service Bus stand-in holds no message of `path` (a queue or
    `topic/Subscriptions/name`), visible or locked: every message sent to it was completed or
    dead-lettered. An abandoned message is still counted, so a test that waits on this and then
    reads the history (delivery count 1, no dead letter) proves the message was completed."""
    from azure.storage.queue import QueueServiceClient

    from devhost.servicebus.names import QueuePath

    service = QueueServiceClient.from_connection_string(storage_connection_string)
    queue = service.get_queue_client(QueuePath.parse(path).storage_queue)
    try:
        return queue.get_queue_properties().approximate_message_count == 0
    except ResourceNotFoundError:
        return True
    finally:
        service.close()


class DevHostError(RuntimeError):
    """devhost did not start, or a helper call got an unexpected answer."""


class DevHostProcess:
    """A devhost child process on a free port with its own state directory.

    Use as a context manager, or call start() and stop(); stop() always reaps the process.
    """

    def __init__(
        self,
        app_dir: Path | str,
        *,
        virtual_time: bool = False,
        state_dir: Path | str | None = None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        port: int | None = None,
        fsync: bool = True,
        azurite: bool = False,
        local_settings: bool = False,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self._own_state = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="devhost-state-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.virtual_time = virtual_time
        self.env = env or {}
        self.extra_args = list(extra_args or [])
        self.port = port or free_port()
        self.fsync = fsync
        # False passes --no-azurite: tests bring their own Azurite on free ports.
        self.azurite = azurite
        # False passes --no-local-settings: the test's settings are `env` and nothing else, never
        # a local.settings.json a developer created in the app directory (e.g. by `make run`).
        self.local_settings = local_settings
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state_dir / f"devhost-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()

    # -- process ---------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "devhost",
            "start",
            str(self.app_dir),
            "--port",
            str(self.port),
            "--state-dir",
            str(self.state_dir),
        ]
        if not self.azurite:
            cmd.append("--no-azurite")
        if self.virtual_time:
            cmd.append("--virtual-time")
        if not self.fsync:
            cmd.append("--no-fsync")
        if not self.local_settings:
            cmd.append("--no-local-settings")
        return cmd + self.extra_args

    def start(self, timeout: float = 60, env: dict[str, str] | None = None) -> DevHostProcess:
        if self.process is not None and self.process.poll() is None:
            raise DevHostError("devhost is already running")
        environ = {**os.environ, **self.env, **(env or {})}
        environ["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [environ.get("PYTHONPATH")])]
        )
        environ.setdefault("PYTHONUNBUFFERED", "1")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=str(PROJECT_ROOT),
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevHostError(
                    f"devhost exited with code {self.process.returncode}:\n{self.logs()[-4000:]}"
                )
            try:
                if self.http.get(self.url("/admin/host/status"), timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.kill()
        raise DevHostError(f"devhost did not start within {timeout}s:\n{self.logs()[-4000:]}")

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        self.stop()
        self.http.close()
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> DevHostProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- durable helpers -------------------------------------------------------------------

    def start_orchestration(
        self, name: str, input: Any = None, instance_id: str | None = None
    ) -> str:
        """Start an orchestration exactly as the SDK's start_new does (double-encoded body)."""
        path = f"{DURABLE}/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
        body = json.dumps(json.dumps(input)) if input is not None else None
        response = self.http.post(
            self.url(path), data=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        if response.status_code != 202:
            raise DevHostError(f"start {name}: HTTP {response.status_code} {response.text}")
        return str(response.json()["id"])

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Raise an event with a plain JSON body, as an HTTP caller of sendEventPostUri would."""
        response = self.http.post(
            self.url(f"{DURABLE}/instances/{instance_id}/raiseEvent/{event_name}"),
            data=json.dumps(data),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        if response.status_code != 202:
            raise DevHostError(f"raise {event_name}: HTTP {response.status_code} {response.text}")

    def instance_operation(
        self, instance_id: str, operation: str, reason: str | None = None, **query: str
    ) -> requests.Response:
        """POST instances/{id}/{suspend|resume|rewind|restart|terminate}: the raw answer."""
        params = {**query, **({"reason": reason} if reason is not None else {})}
        return self.http.post(
            self.url(f"{DURABLE}/instances/{instance_id}/{operation}"), params=params, timeout=30
        )

    def suspend(self, instance_id: str, reason: str | None = None) -> None:
        self._expect_202(self.instance_operation(instance_id, "suspend", reason), "suspend")

    def resume(self, instance_id: str, reason: str | None = None) -> None:
        self._expect_202(self.instance_operation(instance_id, "resume", reason), "resume")

    def rewind(self, instance_id: str, reason: str | None = None) -> None:
        self._expect_202(self.instance_operation(instance_id, "rewind", reason), "rewind")

    def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        """Restart with the original input; returns the restarted instance's id."""
        flag = "true" if new_instance_id else "false"
        response = self.instance_operation(instance_id, "restart", restartWithNewInstanceId=flag)
        self._expect_202(response, "restart")
        return str(response.json()["id"])

    @staticmethod
    def _expect_202(response: requests.Response, what: str) -> None:
        if response.status_code != 202:
            raise DevHostError(f"{what}: HTTP {response.status_code} {response.text}")

    def status(
        self, instance_id: str, *, history: bool = False, history_output: bool = False
    ) -> dict[str, Any] | None:
        query = []
        if history:
            query.append("showHistory=true")
        if history_output:
            query.append("showHistoryOutput=true")
        response = self.http.get(
            self.url(f"{DURABLE}/instances/{instance_id}")
            + ("?" + "&".join(query) if query else ""),
            timeout=30,
        )
        if response.status_code == 404:
            return None
        return response.json()

    def raw_history(self, instance_id: str) -> list[dict[str, Any]]:
        """devhost's stored history (numeric EventType, EventId, scheduling events)."""
        response = self.http.get(
            self.url(f"/admin/devhost/instances/{instance_id}/history"), timeout=30
        )
        if response.status_code != 200:
            raise DevHostError(f"history of {instance_id}: HTTP {response.status_code}")
        return response.json()

    def wait_for(
        self,
        instance_id: str,
        statuses: frozenset[str] | set[str] = TERMINAL,
        timeout: float = 60,
        *,
        history: bool = False,
    ) -> dict[str, Any]:
        """Poll until the instance reaches one of `statuses`; returns its status payload."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(instance_id, history=history, history_output=history)
            if last is not None and last["runtimeStatus"] in statuses:
                return last
            if self.process is not None and self.process.poll() is not None:
                raise DevHostError(f"devhost exited while waiting:\n{self.logs()[-4000:]}")
            time.sleep(0.02)
        raise DevHostError(f"{instance_id} did not reach {sorted(statuses)}; last status: {last}")

    def run_orchestration(
        self, name: str, input: Any = None, instance_id: str | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Start an orchestration and wait for its terminal status (history included)."""
        instance_id = self.start_orchestration(name, input, instance_id)
        return self.wait_for(instance_id, timeout=timeout, history=True)

    def wait_idle(self, timeout: float = 60) -> None:
        response = self.http.post(
            self.url(f"/admin/devhost/idle?timeout={timeout}"), timeout=timeout + 5
        )
        if response.status_code != 200:
            raise DevHostError(f"devhost did not become idle: {response.text}")

    def set_time(
        self, *, auto_advance: bool | None = None, advance_seconds: float | None = None
    ) -> dict[str, Any]:
        """Virtual time control: pause/resume auto-advance, or move the clock forward."""
        body: dict[str, Any] = {}
        if auto_advance is not None:
            body["autoAdvance"] = auto_advance
        if advance_seconds is not None:
            body["advanceSeconds"] = advance_seconds
        response = self.http.post(self.url("/admin/devhost/time"), json=body, timeout=30)
        if response.status_code != 200:
            raise DevHostError(f"time control: HTTP {response.status_code} {response.text}")
        return response.json()


@dataclass
class Delivery:
    """One request a WebhookReceiver took: its headers and raw body."""

    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A caller's webhook endpoint on a free loopback port, for tests of outgoing webhooks.

    Answers every POST with `status` and keeps what it received in `deliveries`. Use as a
    context manager: the server thread is always stopped.
    """

    def __init__(self, path: str = "/hooks", status: int = 204) -> None:
        self.deliveries: list[Delivery] = []
        received, answer = self.deliveries, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(Delivery(dict(self.headers.items()), body))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet: the test reads `deliveries`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
