"""The Azurite stand-in's Service Bus semantics, exercised directly on a real Azurite."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from devhost.azurite import Azurite
from devhost.connections import resolve_storage
from devhost.servicebus.declarations import QueueProperties
from devhost.servicebus.delivery import LockLost
from devhost.servicebus.ledger import Ledger
from devhost.servicebus.models import OutgoingMessage
from devhost.servicebus.names import QueuePath
from devhost.servicebus.standin import MessageTooLarge, StandInQueue
from devhost.servicebus.standin_receiver import StandInReceiver


def make_queue(azurite: Azurite, name: str | None = None, **properties: object) -> StandInQueue:
    storage = resolve_storage(environ={"AzureWebJobsStorage": azurite.connection_string})
    path = QueuePath.parse(name or f"t-{uuid.uuid4().hex[:12]}")
    return StandInQueue(
        storage.queue_service(),
        Ledger(storage.table_service()),
        QueueProperties(name=path.queue, **properties),  # type: ignore[arg-type]
        path,
    )


def message(body: bytes = b"x", **fields: object) -> OutgoingMessage:
    return OutgoingMessage(body=body, message_id=uuid.uuid4().hex, **fields)  # type: ignore[arg-type]


def test_sequence_numbers_increase_even_with_concurrent_senders(azurite: Azurite) -> None:
    queue = make_queue(azurite)
    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(lambda _: queue.send(message()).sequence_number, range(12)))
    assert sorted(numbers) == list(range(1, 13))


def test_the_lock_is_renewed_while_the_function_runs_and_then_lapses(azurite: Azurite) -> None:
    # A 1 s lock (below what a declaration allows) keeps this test short.
    queue = make_queue(azurite, lock_duration=timedelta(seconds=1))
    queue.send(message(b"long job"))

    async def scenario() -> tuple[int, int]:
        with ThreadPoolExecutor(2) as pool:
            receiver = StandInReceiver(queue, pool)
            (delivery,) = await receiver.receive(1)
            delivery.keep_locked(1.6)
            await asyncio.sleep(1.3)  # past the 1 s lock: only renewal keeps it hidden
            while_renewed = len(await asyncio.to_thread(queue.receive, 1))
            await asyncio.sleep(2.0)  # renewal stopped at 1.6 s and the lock lapsed
            again = await asyncio.to_thread(queue.receive, 1)
            await delivery.release()
            return while_renewed, again[0].delivery_count

    assert asyncio.run(scenario()) == (0, 2)


def test_settling_with_a_lost_lock_fails(azurite: Azurite) -> None:
    queue = make_queue(azurite)
    queue.send(message())
    (locked,) = queue.receive(1)
    locked.pop_receipt = "stale"
    with pytest.raises(LockLost):
        queue.complete(locked)


def test_expired_messages_are_dropped_without_dead_lettering(azurite: Azurite) -> None:
    queue = make_queue(azurite, default_time_to_live=timedelta(milliseconds=200))
    queue.send(message())
    time.sleep(0.4)  # the 200 ms time to live lapses; receive must then drop the message
    assert queue.receive(5) == []
    assert queue.peek_dead_letters()[0] == []


def test_a_message_time_to_live_shorter_than_the_queue_wins(azurite: Azurite) -> None:
    queue = make_queue(azurite, dead_lettering_on_expiration=True)
    queue.send(message(time_to_live=timedelta(milliseconds=200)))
    time.sleep(0.4)  # the 200 ms time to live lapses; receive must then dead-letter it
    assert queue.receive(5) == []
    (letter,), _ = queue.peek_dead_letters()
    assert letter.dead_letter_reason == "TTLExpiredException"


def test_resubmitting_inside_the_duplicate_window_is_dropped_and_kept(azurite: Azurite) -> None:
    queue = make_queue(
        azurite,
        max_delivery_count=1,
        requires_duplicate_detection=True,
        duplicate_detection_window=timedelta(minutes=10),
    )
    sent = message(b"order", correlation_id="c")
    queue.send(sent)
    (locked,) = queue.receive(1)
    queue.abandon(locked)  # the only delivery failed: dead-lettered
    (outcome,) = queue.resubmit(None)
    assert not outcome.result.accepted and outcome.result.duplicate_of is not None
    letters, total = queue.peek_dead_letters()
    assert [e.message.message_id for e in letters] == [sent.message_id] and total == 1


def test_a_storage_message_that_is_no_envelope_is_quarantined(azurite: Azurite) -> None:
    queue = make_queue(azurite)
    queue.ensure()
    queue._active.send_message("hello from some other tool")
    assert queue.receive(5) == []
    (letter,), _ = queue.peek_dead_letters()
    assert letter.dead_letter_reason == "DevhostEnvelopeInvalid"
    assert letter.message.body == b"hello from some other tool"


def test_a_message_too_large_for_a_storage_queue_is_refused(azurite: Azurite) -> None:
    queue = make_queue(azurite)
    with pytest.raises(MessageTooLarge, match="claim check"):
        queue.send(message(b"x" * 60_000))


def test_a_trigger_on_the_dead_letter_sub_queue_receives_dead_letters(azurite: Azurite) -> None:
    queue = make_queue(azurite, max_delivery_count=1)
    sent = message(b"poison")
    queue.send(sent)
    queue.abandon(queue.receive(1)[0])
    dead = make_queue(azurite, name=f"{queue.path.queue}/$deadletterqueue")
    (letter,) = dead.receive(5)
    received = letter.envelope.received(letter.delivery_count, "token")
    assert received.message_id == sent.message_id and received.body == b"poison"
    assert received.application_properties["DeadLetterReason"] == "MaxDeliveryCountExceeded"
    dead.complete(letter)
    assert queue.peek_dead_letters() == ([], 0)
