"""publish_job_update is idempotent: twice in a row, twice at once, or retried after a crash
between its effects, the status record, the topic and the reply queue hold what one run leaves.

Real Azurite tables and devhost's Service Bus stand-in (its client for the emulator's
connection string, as the app gets it under devhost), with the project's declaration.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from activities.job_results import publish_job_update
from adapters.factory import ResultAdapters
from adapters.messaging import Outgoing, ServiceBusPublisher
from adapters.status_records import StatusRecords
from app_config import ResultChannels, ServiceBusSettings
from devhost.azurite import Azurite
from devhost.servicebus.client import receive_messages
from devhost.servicebus.sdk_client import StandInServiceBusClient
from devhost.testing import PROJECT_ROOT
from domain.job_updates import JobUpdate, PublishRequest, ResultRouting, UpdateKind
from domain.payload import read

EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
EVENTS = "order-events/Subscriptions/all"


class Crash(Exception):
    """The process dying between two of the activity's effects."""


class CrashingPublisher(ServiceBusPublisher):
    """The real publisher, dying once right after its first topic send."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.armed = True

    def publish_to_topic(self, topic: str, message: Outgoing) -> None:
        super().publish_to_topic(topic, message)
        if self.armed:
            self.armed = False
            raise Crash("after the topic send")


@pytest.fixture
def make_adapters(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ResultAdapters]:
    # The stand-in finds its storage as devhost does: from AzureWebJobsStorage.
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    table = TableServiceClient.from_connection_string(azurite.connection_string).create_table(
        f"jobstatus{uuid.uuid4().hex[:12]}"
    )

    def make(publisher_class: type[ServiceBusPublisher] = ServiceBusPublisher, **kw: Any):
        publisher = publisher_class(
            ServiceBusSettings(connection_string=EMULATOR),
            lambda settings: StandInServiceBusClient(EMULATOR, PROJECT_ROOT),  # type: ignore[arg-type]
        )
        return ResultAdapters(StatusRecords(table, **kw), publisher, ResultChannels())

    return make


def request(final: bool = True) -> dict[str, Any]:
    job_id = f"order-pub-{uuid.uuid4().hex[:10]}"
    update = JobUpdate(
        job_id=job_id,
        job_type="order",
        sequence=4 if final else 1,
        kind=UpdateKind.COMPLETED if final else UpdateKind.MILESTONE,
        step="completed" if final else "recorded",
        progress=100 if final else 10,
        status="Completed" if final else "Received",
        occurred_at="2026-11-22T10:00:00+00:00",
        correlation_id="corr-pub",
        result={"order_id": job_id.removeprefix("order-"), "status": "Completed"}
        if final
        else None,
    )
    return PublishRequest(update=update, routing=ResultRouting(reply_queue="replies")).dump()


def received(entity: str, job_id: str) -> list[Any]:
    found = []
    while batch := receive_messages(entity, max_count=32, max_wait=0.3, app_dir=PROJECT_ROOT):
        found.extend(m for m in batch if json.loads(m.body)["job_id"] == job_id)
    return found


def one_run_left(adapters: ResultAdapters, payload: dict[str, Any]) -> None:
    """Exactly what one publish leaves: the record, one event, one reply, same ids."""
    job_id = payload["update"]["job_id"]
    record = adapters.status.get(job_id)
    assert record == read(JobUpdate, payload["update"])
    events, replies = received(EVENTS, job_id), received("replies", job_id)
    assert [m.message_id for m in events] == [f"{job_id}:4"]
    assert [m.message_id for m in replies] == [f"{job_id}:4"]
    assert replies[0].correlation_id == "corr-pub" and replies[0].subject == "order.completed"
    assert json.loads(replies[0].body) == payload["update"]


def test_twice_in_sequence_equals_one_run(make_adapters: Callable[..., ResultAdapters]) -> None:
    adapters, payload = make_adapters(), request()
    first, second = publish_job_update(payload, adapters), publish_job_update(payload, adapters)
    assert first["status_applied"] and not second["status_applied"]
    assert first["replied_to"] == second["replied_to"] == "replies"
    one_run_left(adapters, payload)


def test_twice_at_once_equals_one_run(make_adapters: Callable[..., ResultAdapters]) -> None:
    adapters, payload = make_adapters(), request()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            publish_job_update(payload, adapters)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    one_run_left(adapters, payload)


def test_a_crash_after_the_status_write_then_a_retry_equals_one_run(
    make_adapters: Callable[..., ResultAdapters],
) -> None:
    armed = {"status.applied"}

    def fault(point: str) -> None:
        if point in armed:
            armed.discard(point)
            raise Crash(point)

    adapters, payload = make_adapters(fault=fault), request()
    with pytest.raises(Crash):
        publish_job_update(payload, adapters)
    publish_job_update(payload, adapters)
    one_run_left(adapters, payload)


def test_a_crash_after_the_topic_send_then_a_retry_equals_one_run(
    make_adapters: Callable[..., ResultAdapters],
) -> None:
    adapters, payload = make_adapters(CrashingPublisher), request()
    with pytest.raises(Crash):
        publish_job_update(payload, adapters)
    publish_job_update(payload, adapters)
    one_run_left(adapters, payload)


def test_a_milestone_goes_to_the_record_and_topic_but_is_no_reply(
    make_adapters: Callable[..., ResultAdapters],
) -> None:
    adapters, payload = make_adapters(), request(final=False)
    assert publish_job_update(payload, adapters)["replied_to"] is None
    job_id = payload["update"]["job_id"]
    assert [m.message_id for m in received(EVENTS, job_id)] == [f"{job_id}:1"]
    assert received("replies", job_id) == []


def test_an_invalid_request_fails_permanently(make_adapters: Callable[..., ResultAdapters]) -> None:
    from domain.failures import PermanentFailure

    with pytest.raises(PermanentFailure, match="invalid publish_job_update input"):
        publish_job_update({"update": {"job_id": "x"}}, make_adapters())
