"""Runs Azurite, the Azure Storage emulator, as a child process for devhost and the tests."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import urlsplit

DEV_ACCOUNT_NAME = "devstoreaccount1"
# Azurite's published development key: public, and accepted only by the emulator.
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_BLOB_PORT = 10000
DEFAULT_QUEUE_PORT = 10001
DEFAULT_TABLE_PORT = 10002

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_ENDPOINT_KEYS = ("blobendpoint", "queueendpoint", "tableendpoint")
_STOP_GRACE_SECONDS = 5.0
_LOG_TAIL_CHARS = 4000
_PID_FILE = "azurite.pid"
# When ports were picked automatically, another process can grab one between our pick and
# Azurite's bind; picking again is then the right answer rather than an error.
_PORT_RACE_ATTEMPTS = 3


def build_connection_string(
    host: str = DEFAULT_HOST,
    blob_port: int = DEFAULT_BLOB_PORT,
    queue_port: int = DEFAULT_QUEUE_PORT,
    table_port: int = DEFAULT_TABLE_PORT,
    scheme: str = "http",
) -> str:
    """A full development-account connection string for an Azurite on the given ports."""

    def endpoint(port: int) -> str:
        return f"{scheme}://{host}:{port}/{DEV_ACCOUNT_NAME}"

    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={DEV_ACCOUNT_NAME};"
        f"AccountKey={DEV_ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint(blob_port)};"
        f"QueueEndpoint={endpoint(queue_port)};"
        f"TableEndpoint={endpoint(table_port)};"
    )


# What "UseDevelopmentStorage=true" stands for: Azurite on its default ports.
DEV_STORAGE_CONNECTION_STRING = build_connection_string()


class AzuriteError(RuntimeError):
    """Azurite could not be found, started or stopped."""


class AzuriteNotInstalledError(AzuriteError, FileNotFoundError):
    """node_modules/.bin/azurite is missing."""


def find_azurite(project_root: Path) -> Path:
    """The Azurite launcher installed by `npm ci` from the project's package-lock.json."""
    path = Path(project_root) / "node_modules" / ".bin" / "azurite"
    if not path.exists():
        raise AzuriteNotInstalledError(
            f"Azurite is not installed: {path} does not exist. "
            f"Run `npm ci` in {Path(project_root).resolve()} (or `make install`)."
        )
    return path


def port_is_listening(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def uses_development_storage(value: str | None) -> bool:
    """True when a storage setting points at the local emulator rather than a real account.

    That is "UseDevelopmentStorage=true" (any case), or a connection string whose service
    endpoints are all on this machine (127.0.0.1, localhost, ::1).
    """
    if not value:
        return False
    pairs: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            pairs[key.strip().lower()] = val.strip()
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        return True
    endpoints = [pairs[key] for key in _ENDPOINT_KEYS if pairs.get(key)]
    if not endpoints:
        return False
    return all((urlsplit(url).hostname or "").lower() in _LOCAL_HOSTS for url in endpoints)


def _free_port(host: str, taken: set[int]) -> int:
    while True:
        with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Azurite:
    """One Azurite process (blob, queue, table) storing its data under `location`.

    Use as a context manager, or call start() and stop(). A port of 0 means "pick a free one",
    which lets tests run beside a developer's own Azurite on 10000-10002. With `cert_path` and
    `key_path` (PEM files) it serves HTTPS; `oauth="basic"` also accepts bearer tokens, which
    Azurite checks for shape, lifetime, issuer and audience (not their signature).
    """

    def __init__(
        self,
        location: Path,
        *,
        blob_port: int = 0,
        queue_port: int = 0,
        table_port: int = 0,
        host: str = DEFAULT_HOST,
        project_root: Path | None = None,
        log_path: Path | None = None,
        cert_path: Path | None = None,
        key_path: Path | None = None,
        oauth: str | None = None,
    ) -> None:
        if (cert_path is None) != (key_path is None):
            raise AzuriteError("cert_path and key_path go together (both PEM files)")
        if oauth is not None and cert_path is None:
            raise AzuriteError("Azurite accepts OAuth only over HTTPS: pass cert_path and key_path")
        self.cert_path = Path(cert_path).resolve() if cert_path else None
        self.key_path = Path(key_path).resolve() if key_path else None
        self.oauth = oauth
        # Absolute, because Azurite runs with the location as its working directory and the
        # stale-instance check compares command lines.
        self.location = Path(location).resolve()
        self.host = host
        self.project_root = Path(project_root or Path(__file__).parent.parent).resolve()
        self.log_path = Path(log_path).resolve() if log_path else self.location / "azurite.log"
        self._requested_ports = (blob_port, queue_port, table_port)
        self.blob_port, self.queue_port, self.table_port = self._resolve_ports()
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- addresses ----------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.cert_path else "http"

    @property
    def blob_endpoint(self) -> str:
        return f"{self.scheme}://{_url_host(self.host)}:{self.blob_port}/{DEV_ACCOUNT_NAME}"

    @property
    def queue_endpoint(self) -> str:
        return f"{self.scheme}://{_url_host(self.host)}:{self.queue_port}/{DEV_ACCOUNT_NAME}"

    @property
    def table_endpoint(self) -> str:
        return f"{self.scheme}://{_url_host(self.host)}:{self.table_port}/{DEV_ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return build_connection_string(
            _url_host(self.host), self.blob_port, self.queue_port, self.table_port, self.scheme
        )

    @property
    def ports(self) -> tuple[int, int, int]:
        return (self.blob_port, self.queue_port, self.table_port)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Start Azurite and wait until blob, queue and table all accept connections."""
        if self.is_running:
            return
        launcher = find_azurite(self.project_root)
        self.location.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._reap_stale_instance()

        auto_ports = 0 in self._requested_ports
        attempts = _PORT_RACE_ATTEMPTS if auto_ports else 1
        for attempt in range(1, attempts + 1):
            busy = self._busy_ports()
            if busy and attempt < attempts:
                self.blob_port, self.queue_port, self.table_port = self._resolve_ports()
                continue
            if busy:
                raise AzuriteError(
                    f"Port(s) {busy} on {self.host} are already in use; is another Azurite "
                    "running? Stop it, or pass port 0 to pick free ports."
                )
            self._spawn(launcher)
            try:
                self._wait_until_listening(timeout)
                return
            except _ExitedEarlyError as exc:
                self.stop()
                if attempt < attempts and "EADDRINUSE" in exc.log_tail:
                    self.blob_port, self.queue_port, self.table_port = self._resolve_ports()
                    continue
                raise AzuriteError(
                    f"Azurite exited with code {exc.returncode} before listening on "
                    f"{self._describe_ports()}. Log {self.log_path}:\n{exc.log_tail}"
                ) from None
            except BaseException:
                self.stop()
                raise

    def stop(self) -> None:
        """Terminate Azurite and anything it started; kill after a grace period. Idempotent."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _stop_process_group(process)
            with contextlib.suppress(FileNotFoundError):
                (self.location / _PID_FILE).unlink()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running else "stopped"
        return f"Azurite({self.location}, {self._describe_ports()}, {state})"

    # -- internals ----------------------------------------------------------------------------

    def _resolve_ports(self) -> tuple[int, int, int]:
        taken = {port for port in self._requested_ports if port}
        resolved = []
        for port in self._requested_ports:
            if not port:
                port = _free_port(self.host, taken)
                taken.add(port)
            resolved.append(port)
        return (resolved[0], resolved[1], resolved[2])

    def _describe_ports(self) -> str:
        return f"{self.host} blob:{self.blob_port} queue:{self.queue_port} table:{self.table_port}"

    def _busy_ports(self) -> list[int]:
        return [port for port in self.ports if port_is_listening(self.host, port)]

    def _spawn(self, launcher: Path) -> None:
        args = [
            str(launcher),
            "--silent",
            "--loose",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
            str(self.location),
            "--blobHost",
            self.host,
            "--blobPort",
            str(self.blob_port),
            "--queueHost",
            self.host,
            "--queuePort",
            str(self.queue_port),
            "--tableHost",
            self.host,
            "--tablePort",
            str(self.table_port),
        ]
        if self.cert_path and self.key_path:
            args += ["--cert", str(self.cert_path), "--key", str(self.key_path)]
        if self.oauth:
            args += ["--oauth", self.oauth]
        if self._log_file is not None:
            self._log_file.close()
        self._log_file = self.log_path.open("wb")
        self._log_file.write(f"$ {' '.join(args)}\n".encode())
        self._log_file.flush()
        try:
            self._process = subprocess.Popen(
                args,
                cwd=self.location,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                # Its own process group: stop() can signal Azurite and any children at once,
                # and a Ctrl+C in the developer's terminal reaches devhost, which stops it in order.
                start_new_session=True,
            )
        except OSError as exc:
            raise AzuriteError(f"Could not run {launcher}: {exc}. Is Node.js installed?") from exc
        # Safety net for callers that forget stop(); stop() unregisters it.
        atexit.register(self.stop)
        (self.location / _PID_FILE).write_text(f"{self._process.pid}\n")

    def _wait_until_listening(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                raise _ExitedEarlyError(returncode, self._log_tail())
            pending = [port for port in pending if not port_is_listening(self.host, port)]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise AzuriteError(
                    f"Azurite did not listen on port(s) {pending} within {timeout:g}s. "
                    f"Log {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_bytes()[-_LOG_TAIL_CHARS:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return text.strip() or "(empty log)"

    def _reap_stale_instance(self) -> None:
        """Stop an Azurite left running on this location by a process that died (e.g. kill -9).

        Two Azurites on one location would corrupt its metadata files, and the stale one would
        hold the ports. Only a process whose command line names Azurite and this location is
        touched; anything else with a recycled pid is left alone.
        """
        pid_file = self.location / _PID_FILE
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmdline = []
        args = [arg.decode("utf-8", "replace") for arg in cmdline]
        is_ours = any("azurite" in arg for arg in args) and str(self.location) in args
        if is_ours:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            _wait_for_group_exit(pid, _STOP_GRACE_SECONDS)
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()


class _ExitedEarlyError(Exception):
    def __init__(self, returncode: int, log_tail: str) -> None:
        super().__init__(returncode)
        self.returncode = returncode
        self.log_tail = log_tail


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    # The child leads its own session, so its pid is also its process-group id.
    pgid = process.pid
    _signal_group(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(pgid, signal.SIGKILL)
        process.wait()
    # The leader has exited; anything it left behind in the group goes now.
    if not _wait_for_group_exit(pgid, 0.5):
        _signal_group(pgid, signal.SIGKILL)
        _wait_for_group_exit(pgid, _STOP_GRACE_SECONDS)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_for_group_exit(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
