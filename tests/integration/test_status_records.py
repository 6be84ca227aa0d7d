"""The status record on Azurite: updates apply in sequence order whatever order they arrive in."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from azure.data.tables import TableServiceClient

from adapters.status_records import StatusRecords
from devhost.azurite import Azurite
from domain.job_updates import JobUpdate, UpdateKind


@pytest.fixture
def records(azurite: Azurite) -> StatusRecords:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return StatusRecords(service.create_table(f"jobstatus{uuid.uuid4().hex[:12]}"))


def update(job_id: str, sequence: int, final: bool = False) -> JobUpdate:
    return JobUpdate(
        job_id=job_id,
        job_type="order",
        sequence=sequence,
        kind=UpdateKind.COMPLETED if final else UpdateKind.MILESTONE,
        step=f"step-{sequence}",
        progress=min(100, sequence * 10),
        status="Completed" if final else "Paid",
        occurred_at=f"2026-11-22T10:00:{sequence:02d}+00:00",
        correlation_id="corr-1",
        result={"order_id": "o-1", "status": "Completed"} if final else None,
    )


def test_an_update_is_stored_and_read_back_whole(records: StatusRecords) -> None:
    final = update("order-a", 5, final=True)
    assert records.apply(final)
    assert records.get("order-a") == final
    assert records.get("order-unknown") is None


def test_a_late_or_repeated_update_never_moves_the_record_back(records: StatusRecords) -> None:
    assert records.apply(update("order-b", 2))
    assert not records.apply(update("order-b", 1))  # arrived late
    assert not records.apply(update("order-b", 2))  # a retried publish
    assert records.apply(update("order-b", 3, final=True))
    assert records.get("order-b") == update("order-b", 3, final=True)


def test_shuffled_concurrent_updates_end_at_the_highest_number(records: StatusRecords) -> None:
    updates = [update("order-c", n, final=n == 12) for n in range(1, 13)]
    random.Random(7).shuffle(updates)
    applied: list[int] = []
    errors: list[BaseException] = []

    def deliver(one: JobUpdate) -> None:
        try:
            if records.apply(one):
                applied.append(one.sequence)
        except BaseException as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(one,)) for one in updates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert records.get("order-c") == update("order-c", 12, final=True)
    assert 12 in applied
