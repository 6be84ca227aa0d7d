"""The trigger's receiving contract on the stand-in: blocking storage calls moved off the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from devhost.servicebus.delivery import Delivery, LockLost, Receiver
from devhost.servicebus.standin import Locked, StandInQueue, new_lock_token

log = logging.getLogger("devhost.serviceBusTrigger")
T = TypeVar("T")


class _Io:
    """Runs blocking storage calls on devhost's Service Bus I/O threads."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))


class StandInDelivery(Delivery):
    def __init__(self, queue: StandInQueue, locked: Locked, io: _Io) -> None:
        self._queue = queue
        self._locked = locked
        self._io = io
        self._guard = asyncio.Lock()  # renewals and settlement change the pop receipt in turn
        self._renewer: asyncio.Task[None] | None = None
        self.message = locked.envelope.received(locked.delivery_count, new_lock_token())

    def keep_locked(self, max_duration: float) -> None:
        deadline = time.monotonic() + max_duration
        self._renewer = asyncio.create_task(self._renew_until(deadline))

    async def _renew_until(self, deadline: float) -> None:
        # Renew at half the lock duration, as lock renewers do well before expiry.
        interval = max(0.5, self._queue.properties.lock_seconds / 2)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(interval, remaining))
            if time.monotonic() >= deadline:
                return
            async with self._guard:
                try:
                    await self._io(self._queue.renew, self._locked)
                except LockLost as exc:
                    log.warning("Lock lost, the message will be delivered again: %s", exc)
                    return
                except Exception as exc:  # storage unreachable: try again at the next interval
                    log.warning("Renewing the lock of a message failed: %s", exc)

    async def _stop_renewing(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None

    async def complete(self) -> None:
        await self._stop_renewing()
        async with self._guard:
            await self._io(self._queue.complete, self._locked)

    async def abandon(self) -> None:
        await self._stop_renewing()
        async with self._guard:
            await self._io(self._queue.abandon, self._locked)

    async def release(self) -> None:
        await self._stop_renewing()


class StandInReceiver(Receiver):
    """Polls the storage queue: at once while messages come, backing off to 0.5 s when idle."""

    MIN_POLL = 0.05
    MAX_POLL = 0.5

    def __init__(self, queue: StandInQueue, executor: Executor) -> None:
        self._queue = queue
        self._io = _Io(executor)
        self._idle = self.MIN_POLL
        self.description = f"local stand-in on storage queue {queue.path.storage_queue}"

    async def receive(self, max_count: int) -> list[Delivery]:
        locked = await self._io(self._queue.receive, max_count)
        if not locked:
            await asyncio.sleep(self._idle)
            self._idle = min(self._idle * 2, self.MAX_POLL)
            return []
        self._idle = self.MIN_POLL
        return [StandInDelivery(self._queue, item, self._io) for item in locked]

    async def close(self) -> None:
        return None
