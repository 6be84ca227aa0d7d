"""The receiving contract the trigger uses, met by the Azurite stand-in and by a real namespace."""

from __future__ import annotations

import abc

from devhost.servicebus.models import ReceivedMessage


class LockLost(Exception):
    """The message's lock expired or was taken over: it can no longer be settled here."""


class Delivery(abc.ABC):
    """One peek-locked message: settle it exactly once with complete() or abandon()."""

    message: ReceivedMessage

    @abc.abstractmethod
    def keep_locked(self, max_duration: float) -> None:
        """Renew the lock in the background for up to `max_duration` seconds from now."""

    @abc.abstractmethod
    async def complete(self) -> None:
        """Remove the message for good; LockLost if the lock is gone (it will come again)."""

    @abc.abstractmethod
    async def abandon(self) -> None:
        """Give the message back now; it is delivered again with its delivery count raised."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Stop renewing and leave the message locked until its lock lapses (no settlement)."""


class Receiver(abc.ABC):
    """Peek-lock receiving from one queue (or its dead-letter sub-queue)."""

    description: str

    @abc.abstractmethod
    async def receive(self, max_count: int) -> list[Delivery]:
        """Up to `max_count` messages; an empty list after a short wait when there are none."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; locked messages are left to their locks."""
