"""Depth and oldest age of every declared dead-letter sub-queue, and a host's periodic log line."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from devhost.connections import ServiceBusConnection, resolve_service_bus, resolve_storage
from devhost.servicebus.declarations import declaration_path, load_declarations
from devhost.servicebus.envelope import Envelope, EnvelopeError
from devhost.servicebus.names import QueuePath
from devhost.servicebus.options import DEFAULT_CONNECTION

INTERVAL_SETTING = "DEVHOST_DEAD_LETTER_LOG_INTERVAL"
DEFAULT_INTERVAL = 60.0
# A storage queue peeks at most 32 messages; the oldest dead letter is among the first.
_PEEK = 32
_STOP_WAIT = 1.0
log = logging.getLogger("devhost.serviceBusTrigger")

AdminClientFactory = Callable[[ServiceBusConnection], Any]


@dataclass(frozen=True)
class DeadLetterStats:
    """One dead-letter sub-queue: how many messages it holds and since when the oldest waits.

    `oldest_enqueued_at` is when the oldest visible dead letter entered the sub-queue; None
    when it is empty or (on a real namespace) not known.
    """

    entity: str
    depth: int
    oldest_enqueued_at: datetime | None
    oldest_age_seconds: float | None

    def describe(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "depth": self.depth,
            "oldestEnqueuedAtUtc": (
                self.oldest_enqueued_at.isoformat() if self.oldest_enqueued_at else None
            ),
            "oldestAgeSeconds": (
                round(self.oldest_age_seconds, 1) if self.oldest_age_seconds is not None else None
            ),
        }

    def summary(self) -> str:
        age = (
            f", oldest {self.oldest_age_seconds:.0f} s"
            if self.oldest_age_seconds is not None
            else ""
        )
        return f"{self.entity} depth {self.depth}{age}"


def declared_dead_letter_paths(app_dir: Path, environ: Mapping[str, str]) -> list[QueuePath]:
    """The dead-letter sub-queue of every declared queue and topic subscription."""
    declarations = load_declarations(declaration_path(app_dir, environ))
    paths = [QueuePath(q.name, True) for q in declarations.queues.values()]
    for topic in declarations.topics.values():
        paths.extend(QueuePath(topic.name, True, s.name) for s in topic.subscriptions.values())
    return paths


def dead_letter_stats(
    app_dir: Path | str,
    environ: Mapping[str, str] | None = None,
    *,
    connection: str = DEFAULT_CONNECTION,
    admin_factory: AdminClientFactory | None = None,
) -> list[DeadLetterStats]:
    """Stats for every declared dead-letter sub-queue, on the namespace or the stand-in.

    On the stand-in, depth is the storage queue's approximate message count and the age comes
    from the dead letters a peek sees. On a configured namespace, depth is the entity's
    `dead_letter_message_count` runtime property and the age is not reported.
    """
    env = os.environ if environ is None else environ
    paths = declared_dead_letter_paths(Path(app_dir), env)
    if not paths:
        return []
    namespace = resolve_service_bus(connection, env)
    if namespace is not None:
        return _namespace_stats(namespace, paths, admin_factory or _admin_client)
    queue_service = resolve_storage(environ=env).queue_service()
    now = datetime.now(UTC)
    return [_standin_stats(queue_service, path, now) for path in paths]


def _standin_stats(queue_service: Any, path: QueuePath, now: datetime) -> DeadLetterStats:
    # Read the storage queue directly rather than through StandInQueue, which would create
    # the queues: looking must not change anything.
    client = queue_service.get_queue_client(path.storage_queue)
    try:
        depth = int(client.get_queue_properties().approximate_message_count or 0)
        peeked = list(client.peek_messages(max_messages=_PEEK)) if depth else []
    except ResourceNotFoundError:
        return DeadLetterStats(str(path), 0, None, None)
    times = []
    for stored in peeked:
        try:
            envelope = Envelope.from_json(stored.content)
        except EnvelopeError:
            continue
        times.append(envelope.dead_lettered_at or envelope.enqueued_time)
    oldest = min(times, default=None)
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
    return DeadLetterStats(str(path), depth, oldest, age)


def _admin_client(connection: ServiceBusConnection) -> Any:
    from azure.servicebus.management import ServiceBusAdministrationClient

    if connection.connection_string:
        return ServiceBusAdministrationClient.from_connection_string(connection.connection_string)
    return ServiceBusAdministrationClient(
        str(connection.fully_qualified_namespace), connection.credential
    )


def _namespace_stats(
    connection: ServiceBusConnection, paths: list[QueuePath], factory: AdminClientFactory
) -> list[DeadLetterStats]:
    client = factory(connection)
    try:
        found = []
        for path in paths:
            if path.subscription is None:
                props = client.get_queue_runtime_properties(path.queue)
            else:
                props = client.get_subscription_runtime_properties(path.queue, path.subscription)
            found.append(
                DeadLetterStats(str(path), int(props.dead_letter_message_count), None, None)
            )
        return found
    finally:
        client.close()


def interval_from(environ: Mapping[str, str]) -> float:
    """Seconds between dead-letter checks (DEVHOST_DEAD_LETTER_LOG_INTERVAL); 0 turns them off."""
    text = environ.get(INTERVAL_SETTING, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(
            f"{INTERVAL_SETTING} must be a number of seconds (0 turns the check off), got {text!r}"
        )
    return seconds


class DeadLetterWatch:
    """Logs the non-empty dead-letter sub-queues every interval while devhost runs.

    A daemon thread: a check that hangs on unreachable storage neither delays start-up nor
    keeps the process alive at exit. Failures are logged once per distinct error.
    """

    def __init__(self, app_dir: Path, environ: Mapping[str, str], interval: float) -> None:
        self._app_dir = app_dir
        self._environ = environ
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    def start(self) -> None:
        if self._interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="devhost-dead-letter-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(_STOP_WAIT)
            self._thread = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.check()
            self._stopped.wait(self._interval)

    def check(self) -> None:
        """One check: a warning naming every non-empty dead-letter sub-queue."""
        try:
            stats = dead_letter_stats(self._app_dir, self._environ)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if problem != self._last_error:
                log.warning("Dead-letter depths could not be read (%s)", problem)
            self._last_error = problem
            return
        self._last_error = None
        waiting = [s for s in stats if s.depth > 0]
        if waiting and not self._stopped.is_set():
            log.warning("Dead letters: %s", "; ".join(s.summary() for s in waiting))
