"""Runs Service Bus queue and topic-subscription triggers: peek-lock, invoke, settle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from devhost.bindings import UnsupportedBinding
from devhost.connections import ConnectionNotConfigured, resolve_service_bus, resolve_storage
from devhost.indexing import IndexedFunction
from devhost.invoker import FunctionInvocationError
from devhost.servicebus.declarations import (
    DeclarationError,
    Declarations,
    declaration_path,
    describe_subscription,
    load_declarations,
)
from devhost.servicebus.delivery import Delivery, LockLost, Receiver
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.live import (
    ClientFactory,
    LiveReceiver,
    RenewerFactory,
    default_client_factory,
    default_renewer_factory,
)
from devhost.servicebus.messages import is_utf8, trigger_data, trigger_metadata
from devhost.servicebus.names import SUBSCRIPTIONS_SEGMENT
from devhost.servicebus.namespace import EntityNotFound, StandInNamespace
from devhost.servicebus.options import (
    HostServiceBusOptions,
    OptionsError,
    Refused,
    TriggerBinding,
    trigger_binding,
)
from devhost.servicebus.outputs import OutputError
from devhost.servicebus.standin import StandInQueue
from devhost.servicebus.standin_receiver import StandInReceiver
from devhost.triggers.base import TriggerSource

_RECEIVE_ERROR_PAUSE = 5.0
_PUMP_EXIT_WAIT = 2.0


@dataclass
class _Work:
    delivery: Delivery
    settling: bool = False
    given_back: bool = False


@dataclass
class _Listener:
    function: IndexedFunction
    binding: TriggerBinding
    receiver: Receiver
    max_calls: int
    in_flight: dict[asyncio.Task[None], _Work] = field(default_factory=dict)
    slot_freed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class ServiceBusSource(TriggerSource):
    trigger_type = "serviceBusTrigger"

    def __init__(
        self,
        *args: Any,
        client_factory: ClientFactory = default_client_factory,
        renewer_factory: RenewerFactory = default_renewer_factory,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._client_factory = client_factory
        self._renewer_factory = renewer_factory
        self._listeners: list[_Listener] = []
        self._stopping = False
        self._options = HostServiceBusOptions()
        self._declarations: Declarations | None = None
        self._io = ThreadPoolExecutor(max_workers=8, thread_name_prefix="devhost-servicebus")

    def describe(self, fn: IndexedFunction) -> str:
        trigger = fn.trigger
        entity = trigger.get("queueName") or (
            f"{trigger.get('topicName')}{SUBSCRIPTIONS_SEGMENT}{trigger.get('subscriptionName')}"
        )
        return f"serviceBusTrigger ({entity})"

    def status(self) -> dict[str, Any]:
        return {
            listener.function.name: {
                "entity": str(listener.binding.path),
                "inFlight": len(listener.in_flight),
                "maxConcurrentCalls": listener.max_calls,
            }
            for listener in self._listeners
        }

    # -- start --------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            raw = self.context.host_options.raw
            self._options = HostServiceBusOptions.from_host_json(raw)
        except OptionsError as exc:
            self.log.error("Service Bus triggers will not run: %s", exc)
            return
        for warning in self._options.warnings:
            self.log.warning("%s", warning)
        for fn in self.functions:
            try:
                listener = await self._listen(fn)
            except Refused as exc:
                self.log.error("Service Bus trigger '%s' will not run: %s", fn.name, exc)
                continue
            except Exception as exc:
                self.log.error(
                    "Service Bus trigger '%s' will not run: %s: %s",
                    fn.name,
                    type(exc).__name__,
                    exc,
                )
                continue
            self._listeners.append(listener)
            listener.task = asyncio.create_task(self._pump(listener), name=f"servicebus:{fn.name}")
            listener.task.add_done_callback(self._report_crash)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error(
                "%s stopped: devhost internal error", task.get_name(), exc_info=task.exception()
            )

    async def _listen(self, fn: IndexedFunction) -> _Listener:
        binding = trigger_binding(fn, self._options)
        path = binding.path
        connection = resolve_service_bus(binding.connection)
        receiver: Receiver
        if connection is not None:
            live = LiveReceiver(connection, path, self._client_factory, self._renewer_factory)
            await live.open()
            receiver, semantics = live, f"{path.kind} properties as configured in Azure"
        else:
            queue, semantics = await self._standin_entity(binding)
            receiver = StandInReceiver(queue, self._io)
        if not binding.auto_complete:
            self.log.warning(
                "Service Bus trigger '%s' has autoCompleteMessages false: a message its function "
                "finished is not completed, and comes again when its lock expires",
                fn.name,
            )
        self.log.info(
            "Service Bus trigger '%s' listens on %s '%s' through the %s (%s; "
            "maxConcurrentCalls %d)",
            fn.name,
            path.kind,
            path,
            receiver.description,
            semantics,
            self._options.max_concurrent_calls,
        )
        return _Listener(fn, binding, receiver, self._options.max_concurrent_calls)

    async def _standin_entity(self, binding: TriggerBinding) -> tuple[StandInQueue, str]:
        """The stand-in queue or subscription the trigger receives from, and its semantics."""
        try:
            storage = resolve_storage()
        except ConnectionNotConfigured as exc:
            raise Refused(
                f"no Service Bus namespace is configured for connection '{binding.connection}' "
                f"and the local stand-in needs AzureWebJobsStorage: {exc}"
            ) from exc
        if self._declarations is None:
            path = declaration_path(self.context.app_dir)
            try:
                self._declarations = await asyncio.to_thread(load_declarations, path)
            except DeclarationError as exc:
                raise Refused(str(exc)) from exc
        declarations, path = self._declarations, binding.path
        if path.subscription is None and declarations.topic(path.queue) is not None:
            raise Refused(
                f"'{path.queue}' is declared as a topic in {declarations.where}: a queue trigger "
                "cannot listen on it; listen on one of its subscriptions with "
                f"service_bus_topic_trigger(topic_name='{path.queue}', subscription_name=...)"
            )
        namespace = StandInNamespace(
            storage.queue_service(), Ledger(storage.table_service()), declarations
        )
        try:
            # Its storage queues are created on the first receive, by the pump, which keeps
            # retrying if storage is not reachable yet: start-up never waits for storage.
            queue = namespace.receiver(path)
        except EntityNotFound as exc:
            raise Refused(str(exc)) from exc
        if path.subscription is not None:
            return queue, describe_subscription(declarations, path)
        if not queue.properties.declared:
            self.log.info(
                "Queue '%s' is not declared%s: it gets Service Bus's defaults",
                path.queue,
                f" in {declarations.source}" if declarations.source else " (no declaration file)",
            )
        return queue, queue.properties.describe()

    # -- receiving and invoking ---------------------------------------------------------------

    async def _pump(self, listener: _Listener) -> None:
        pause = 0.0
        while not self._stopping:
            free = listener.max_calls - len(listener.in_flight)
            if free <= 0:
                listener.slot_freed.clear()
                await listener.slot_freed.wait()
                continue
            if pause:
                await asyncio.sleep(pause)
            try:
                deliveries = await listener.receiver.receive(free)
                pause = 0.0
            except Exception as exc:
                pause = _RECEIVE_ERROR_PAUSE
                self.log.warning(
                    "Receiving from %s '%s' failed (%s: %s); trying again in %.0f s",
                    listener.binding.path.kind,
                    listener.binding.path,
                    type(exc).__name__,
                    exc,
                    pause,
                )
                continue
            for delivery in deliveries:
                if self._stopping:
                    await self._give_back(delivery)
                    continue
                task = asyncio.create_task(self._process(listener, delivery))
                listener.in_flight[task] = _Work(delivery)
                task.add_done_callback(lambda t, lst=listener: self._finished(lst, t))

    def _finished(self, listener: _Listener, task: asyncio.Task[None]) -> None:
        listener.in_flight.pop(task, None)
        listener.slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            self.log.error(
                "Service Bus trigger '%s': devhost internal error",
                listener.function.name,
                exc_info=task.exception(),
            )

    async def _process(self, listener: _Listener, delivery: Delivery) -> None:
        fn = listener.function
        message = delivery.message
        delivery.keep_locked(self._options.max_auto_lock_renewal)
        if not listener.binding.binary and not is_utf8(message.body):
            self.log.warning(
                "Message '%s' on %s '%s' is not UTF-8 text: '%s' receives it with invalid "
                "bytes replaced by U+FFFD, as in Azure. Set data_type=func.DataType.BINARY on "
                "the trigger to receive the bytes unchanged.",
                message.message_id,
                listener.binding.path.kind,
                listener.binding.path,
                fn.name,
            )
        succeeded = False
        try:
            await self.context.invoke(
                fn,
                trigger_data(message, binary=listener.binding.binary),
                trigger_metadata(message, fn.name),
            )
            # context.invoke sent the outputs, so they went out before the message completes.
            succeeded = True
        except FunctionInvocationError:
            pass  # the invoker logged it; the message is abandoned below
        except asyncio.CancelledError:
            raise  # devhost is stopping: stop() gave the message back
        except (UnsupportedBinding, OutputError) as exc:
            self.log.error("Service Bus trigger '%s' failed: %s", fn.name, exc)
        except Exception:
            self.log.exception("Service Bus trigger '%s' could not be invoked", fn.name)
        work = listener.in_flight.get(asyncio.current_task())  # type: ignore[arg-type]
        if work is None or work.given_back:
            return
        work.settling = True
        await self._settle(listener, delivery, succeeded)

    async def _settle(self, listener: _Listener, delivery: Delivery, succeeded: bool) -> None:
        message = delivery.message
        try:
            if not succeeded:
                await delivery.abandon()
                self.log.info(
                    "Message '%s' failed on delivery %d: abandoned, so it is delivered again "
                    "until maxDeliveryCount deliveries have failed, then dead-lettered",
                    message.message_id,
                    message.delivery_count,
                )
            elif listener.binding.auto_complete:
                await delivery.complete()
            else:
                await delivery.release()
        except LockLost as exc:
            self.log.warning(
                "Message '%s' could not be settled because its lock was lost; it will be "
                "delivered again (%s)",
                message.message_id,
                exc,
            )
        except Exception:
            self.log.exception("Settling message '%s' failed", message.message_id)

    async def _give_back(self, delivery: Delivery) -> None:
        try:
            await delivery.abandon()
        except Exception as exc:
            self.log.warning(
                "Message '%s' could not be abandoned (%s); it comes again when its lock expires",
                delivery.message.message_id,
                exc,
            )

    # -- stop ---------------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        self._stopping = True
        deadline = time.monotonic() + grace
        for listener in self._listeners:
            listener.slot_freed.set()
        pumps = [lst.task for lst in self._listeners if lst.task is not None]
        if pumps:
            await asyncio.wait(pumps, timeout=max(0.1, min(_PUMP_EXIT_WAIT, grace)))
        running = [t for lst in self._listeners for t in lst.in_flight]
        if running:
            self.log.info(
                "Waiting up to %.1f s for %d Service Bus invocation(s) to finish",
                max(0.0, deadline - time.monotonic()),
                len(running),
            )
            await asyncio.wait(running, timeout=max(0.0, deadline - time.monotonic()))
        await self._give_back_unfinished()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                await listener.receiver.close()
        self._io.shutdown(wait=False, cancel_futures=True)

    async def _give_back_unfinished(self) -> None:
        unfinished: list[tuple[asyncio.Task[None], _Work]] = []
        settling: list[asyncio.Task[None]] = []
        for listener in self._listeners:
            for task, work in list(listener.in_flight.items()):
                if task.done():
                    continue
                if work.settling:
                    settling.append(task)
                else:
                    work.given_back = True
                    unfinished.append((task, work))
        for task, work in unfinished:
            self.log.warning(
                "Message '%s' was still being processed when the shutdown grace period ended: "
                "abandoned, so it is delivered again",
                work.delivery.message.message_id,
            )
            await self._give_back(work.delivery)
            task.cancel()
        if settling:
            await asyncio.wait(settling, timeout=_PUMP_EXIT_WAIT)
        if unfinished:
            await asyncio.gather(*(t for t, _ in unfinished), return_exceptions=True)
