"""Storage errors and odd messages in the blob trigger's executor and queue consumer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from devhost.blobs.consumer import QueueConsumer, QueueOptions
from devhost.blobs.executor import BlobExecutor, BlobFunction, Result
from devhost.blobs.messages import BlobTriggerMessage, Received, encode
from devhost.blobs.paths import BlobPathPattern
from devhost.indexing import IndexedFunction


class _Blob:
    url = "http://127.0.0.1:10000/devstoreaccount1/box/a.txt"

    def __init__(self, properties: Callable[[], Any]) -> None:
        self._properties = properties

    def get_blob_properties(self) -> Any:
        return self._properties()


class _Service:
    def __init__(self, blob: _Blob) -> None:
        self._blob = blob

    def get_blob_client(self, container: str, blob: str) -> _Blob:
        return self._blob


def _raise(exc: Exception) -> Callable[[], Any]:
    def call() -> Any:
        raise exc

    return call


async def _direct(call: Callable[..., Any], *args: Any) -> Any:
    return call(*args)


def _executor(properties: Callable[[], Any]) -> BlobExecutor:
    fn = IndexedFunction("f", "id", lambda blob: None, [], {}, False, False)
    target = BlobFunction(
        fn, BlobPathPattern("box/{name}"), False, "S", _Service(_Blob(properties)), None
    )
    context: Any = None  # never reached: these cases end before the invocation
    return BlobExecutor(context, {target.function_id: target}, _direct, logging.getLogger("t"))


def _message(function_id: str | None = "Host.Functions.f") -> BlobTriggerMessage:
    return BlobTriggerMessage(function_id, "BlockBlob", "box", "a.txt", '"0x1"')


def test_storage_errors_fail_the_attempt_and_missing_blobs_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    azurite_error = HttpResponseError(message="Internal error")
    azurite_error.status_code = 500
    assert asyncio.run(_executor(_raise(azurite_error)).run(_message(), 1)) is Result.FAILED
    assert "Blob 'box/a.txt' could not be read for 'f': 500: Internal error" in caplog.text
    gone = ResourceNotFoundError(message="BlobNotFound")
    assert asyncio.run(_executor(_raise(gone)).run(_message(), 1)) is Result.COMPLETE
    assert "Blob 'box/a.txt' no longer exists" in caplog.text


def test_unknown_functions_are_dropped_and_a_missing_function_id_fails() -> None:
    executor = _executor(_raise(AssertionError("not reached")))
    assert asyncio.run(executor.run(_message("Host.Functions.gone"), 1)) is Result.COMPLETE
    assert asyncio.run(executor.run(_message(None), 1)) is Result.FAILED


class _Queue:
    name = "q"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.deleted: list[str] = []
        self.visibility: list[int] = []

    def send_creating(self, text: str) -> None:
        self.sent.append(text)

    def delete(self, message: Received) -> None:
        self.deleted.append(message.message_id)

    def set_visibility(self, message: Received, seconds: int) -> None:
        self.visibility.append(seconds)


class _Failing:
    async def run(self, message: BlobTriggerMessage, attempt: int) -> Result:
        return Result.FAILED


@pytest.mark.parametrize(("dequeue_count", "poisoned"), [(4, False), (5, True)])
def test_the_fifth_failure_moves_the_message_to_the_poison_queue(
    dequeue_count: int, poisoned: bool
) -> None:
    queue, poison = _Queue(), _Queue()
    consumer = QueueConsumer(
        queue,  # type: ignore[arg-type]
        _Failing(),  # type: ignore[arg-type]
        lambda message: poison,  # type: ignore[arg-type,return-value]
        QueueOptions.from_host_json({"extensions": {"queues": {"visibilityTimeout": "00:00:02"}}}),
        _direct,
        logging.getLogger("t"),
    )
    text = _message().to_json()
    received = Received("m1", "pop", dequeue_count, encode(text))
    asyncio.run(consumer.handle(received))
    if poisoned:
        assert poison.sent == [text] and queue.deleted == ["m1"]
    else:
        assert poison.sent == [] and queue.visibility == [2]
