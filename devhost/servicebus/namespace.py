"""The stand-in's entities on one storage account: which queue or topic a name means."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devhost.connections import resolve_storage
from devhost.servicebus.declarations import Declarations, declaration_path, load_declarations
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.names import QueuePath
from devhost.servicebus.standin import StandInQueue
from devhost.servicebus.topics import StandInTopic


class EntityNotFound(ValueError):
    """The name is not an entity the stand-in has; Service Bus would answer 'not found' too."""


class StandInNamespace:
    """Queues and topics as declared (undeclared queues get Service Bus's defaults).

    Names resolve as in a namespace, where queues and topics share one set of names: a declared
    topic is a topic, anything else a queue. Topics are never assumed, since a topic without
    its subscriptions would keep nothing. Safe to share between threads.
    """

    def __init__(self, queue_service: Any, ledger: Ledger, declarations: Declarations) -> None:
        self.declarations = declarations
        self._queue_service = queue_service
        self._ledger = ledger
        self._lock = threading.Lock()
        self._senders: dict[tuple[str, bool], StandInQueue | StandInTopic] = {}

    @classmethod
    def from_settings(
        cls, app_dir: Path | str = ".", environ: Mapping[str, str] | None = None
    ) -> StandInNamespace:
        """On AzureWebJobsStorage, with the declaration devhost reads for `app_dir`."""
        env = os.environ if environ is None else environ
        storage = resolve_storage(environ=env)
        declarations = load_declarations(declaration_path(Path(app_dir), env))
        return cls(storage.queue_service(), Ledger(storage.table_service()), declarations)

    def sender(self, name: str, *, topic: bool = False) -> StandInQueue | StandInTopic:
        """What a send to `name` reaches; with `topic`, it must be a declared topic."""
        path = QueuePath.parse(name)
        if path.dead_letter or path.subscription is not None:
            raise ValueError(f"messages cannot be sent to '{path}': send to a queue or a topic")
        key = (name.lower(), topic)
        with self._lock:
            found = self._senders.get(key)
            if found is None:
                found = self._senders[key] = self._new_sender(path, topic)
            return found

    def _new_sender(self, path: QueuePath, topic: bool) -> StandInQueue | StandInTopic:
        declared = self.declarations.topic(path.queue)
        if declared is not None:
            return StandInTopic(self._queue_service, self._ledger, declared)
        if topic:
            kind = (
                "a queue, not a topic"
                if path.queue.lower() in self.declarations.queues
                else ("not declared")
            )
            raise EntityNotFound(
                f"topic '{path.queue}' is {kind} in {self.declarations.where}. devhost's "
                "Service Bus stand-in needs each topic and its subscriptions declared under "
                '"topics" there'
            )
        return StandInQueue(
            self._queue_service, self._ledger, self.declarations.queue(path.queue), path
        )

    def receiver(self, path: QueuePath) -> StandInQueue:
        """The queue or subscription (or its dead letters) that `path` names, to receive from."""
        topic = self.declarations.topic(path.queue)
        if path.subscription is None:
            if topic is not None:
                raise ValueError(
                    f"'{path.queue}' is a topic: receive from one of its subscriptions, "
                    f"'{path.queue}/Subscriptions/<name>'"
                )
            return StandInQueue(
                self._queue_service, self._ledger, self.declarations.queue(path.queue), path
            )
        if topic is None:
            kind = (
                "declared as a queue, not a topic,"
                if path.queue.lower() in self.declarations.queues
                else "not declared"
            )
            raise EntityNotFound(
                f"topic '{path.queue}' is {kind} in {self.declarations.where}, so subscription "
                f"'{path.entity}' does not exist. devhost's Service Bus stand-in needs each "
                'topic and its subscriptions declared under "topics" there'
            )
        subscription = topic.subscription(path.subscription)
        if subscription is None:
            declared = ", ".join(s.name for s in topic.subscriptions.values()) or "none"
            raise EntityNotFound(
                f"topic '{topic.name}' has no subscription '{path.subscription}' in "
                f"{self.declarations.where} (declared: {declared}); add it to the topic's "
                '"subscriptions" there'
            )
        return StandInQueue(
            self._queue_service, self._ledger, topic.queue_properties(subscription), path
        )
