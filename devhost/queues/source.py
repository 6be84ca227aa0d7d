"""The storage queue trigger source: one listener per `queueTrigger` function."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devhost.connections import DEFAULT_STORAGE, ConnectionNotConfigured, resolve_storage
from devhost.expressions import BindingExpressionError, resolve
from devhost.indexing import IndexedFunction
from devhost.invoker import FunctionInvocationError
from devhost.queues.listener import QueueListener
from devhost.queues.message import Received, trigger_data, trigger_metadata
from devhost.queues.names import InvalidQueueName, poison_queue_name, trigger_queue_name
from devhost.queues.options import QueueOptionsError, QueueTriggerOptions
from devhost.queues.storage import StorageQueue
from devhost.queues.watchers import unwatch, watch
from devhost.servicebus.outputs import OutputError
from devhost.triggers.base import TriggerSource

TRIGGER_TYPE = "queueTrigger"


class QueueTriggerSource(TriggerSource):
    """Runs every queue-triggered function, each with its own listener, as the host does."""

    trigger_type = TRIGGER_TYPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="devhost-queues")
        self._listeners: dict[str, QueueListener] = {}
        self._services: dict[str, Any] = {}
        self._queue_names: dict[str, str] = {}
        self._watched: list[tuple[str, str, QueueListener]] = []

    def describe(self, fn: IndexedFunction) -> str:
        name = self._queue_names.get(fn.name) or fn.trigger.get("queueName")
        return f"queueTrigger ({name})"

    def status(self) -> dict[str, Any]:
        return {
            "functions": {
                name: {"queue": listener.queue.name, "inFlight": listener.in_flight}
                for name, listener in sorted(self._listeners.items())
            }
        }

    async def _blocking(self, call: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(call, *args))

    def _service(self, connection: str) -> Any:
        if connection not in self._services:
            self._services[connection] = resolve_storage(connection).queue_service()
        return self._services[connection]

    async def start(self) -> None:
        try:
            options = QueueTriggerOptions.from_host_json(self.context.host_options.raw)
        except QueueOptionsError as exc:
            for fn in self.functions:
                self.log.error("Queue trigger '%s' will not run: %s", fn.name, exc)
            return
        for fn in self.functions:
            try:
                listener = self._listener(fn, options)
            except (
                BindingExpressionError,
                InvalidQueueName,
                ConnectionNotConfigured,
                ValueError,
            ) as exc:
                self.log.error("Queue trigger '%s' will not run: %s", fn.name, exc)
                continue
            self._listeners[fn.name] = listener
        for listener in self._listeners.values():
            listener.start()

    def _listener(self, fn: IndexedFunction, options: QueueTriggerOptions) -> QueueListener:
        trigger = fn.trigger
        name = trigger_queue_name(str(trigger.get("queueName") or ""))
        connection = resolve(str(trigger.get("connection") or "")) or DEFAULT_STORAGE
        service = self._service(connection)
        poison_name = poison_queue_name(name)
        binary = str(trigger.get("dataType") or "").lower() == "binary"
        listener = QueueListener(
            fn.name,
            StorageQueue(service, name),
            StorageQueue(service, poison_name) if poison_name else None,
            options,
            functools.partial(self._run, fn, binary),
            self._blocking,
            self.log,
        )
        self._queue_names[fn.name] = name
        watch(connection, name, listener.wake)
        self._watched.append((connection, name, listener))
        return listener

    async def _run(self, fn: IndexedFunction, binary: bool, message: Received, body: bytes) -> bool:
        data = trigger_data(body, binary=binary)
        metadata = trigger_metadata(message, body, fn.name)
        try:
            await self.context.invoke(fn, data, metadata)
        except FunctionInvocationError:
            return False  # the invoker logged the traceback
        except OutputError as exc:
            self.log.error("'%s' failed: %s", fn.name, exc)
            return False
        except Exception:
            self.log.exception("Queue trigger '%s' could not be invoked", fn.name)
            return False
        return True

    async def stop(self, grace: float) -> None:
        await asyncio.gather(*(listener.stop(grace) for listener in self._listeners.values()))
        for connection, name, listener in self._watched:
            unwatch(connection, name, listener.wake)
        self._pool.shutdown(wait=False)
