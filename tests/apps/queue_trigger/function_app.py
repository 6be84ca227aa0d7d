"""Queue-triggered functions that write what they received to a JSON-lines journal."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import azure.functions as func

app = func.FunctionApp()
_lock = threading.Lock()


def record(function: str, **fields: Any) -> None:
    row = {"function": function, "pid": os.getpid(), "at": time.time(), **fields}
    with _lock, open(os.environ["QUEUE_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps(row) + "\n")


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


@app.queue_trigger(arg_name="msg", queue_name="%Q%-fields", connection="AzureWebJobsStorage")
def fields(msg: func.QueueMessage) -> None:
    record(
        "fields",
        id=msg.id,
        body=msg.get_body().decode("utf-8", errors="replace"),
        dequeue_count=msg.dequeue_count,
        insertion_time=_iso(msg.insertion_time),
        expiration_time=_iso(msg.expiration_time),
        time_next_visible=_iso(msg.time_next_visible),
        pop_receipt=msg.pop_receipt,
        type=type(msg).__name__,
    )


@app.queue_trigger(
    arg_name="msg",
    queue_name="%Q%-binary",
    connection="AzureWebJobsStorage",
    data_type=func.DataType.BINARY,
)
def binary(msg: func.QueueMessage) -> None:
    record("binary", hex=msg.get_body().hex())


@app.queue_trigger(arg_name="text", queue_name="%Q%-text", connection="AzureWebJobsStorage")
def as_text(text: str) -> None:
    record("as_text", type=type(text).__name__, text=text)


@app.queue_trigger(arg_name="msg", queue_name="%Q%-flaky", connection="AzureWebJobsStorage")
def flaky(msg: func.QueueMessage) -> None:
    """Fails until its dequeue count reaches the body's `succeed_on`."""
    wanted = int(msg.get_json()["succeed_on"])
    record("flaky", dequeue_count=msg.dequeue_count, at_attempt=wanted)
    if (msg.dequeue_count or 0) < wanted:
        raise RuntimeError(f"attempt {msg.dequeue_count} fails on purpose")


@app.queue_trigger(arg_name="msg", queue_name="%Q%-slow", connection="AzureWebJobsStorage")
async def slow(msg: func.QueueMessage) -> None:
    """Sleeps `seconds` (only on the first attempt when `first_only`)."""
    body = msg.get_json()
    record("slow", phase="start", body=body, dequeue_count=msg.dequeue_count)
    if not body.get("first_only") or msg.dequeue_count == 1:
        await asyncio.sleep(float(body["seconds"]))
    record("slow", phase="end", body=body, dequeue_count=msg.dequeue_count)


@app.queue_trigger(arg_name="msg", queue_name="%Q%-forward", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="%Q%-forwarded", connection="AzureWebJobsStorage")
def forward(msg: func.QueueMessage, out: func.Out[str]) -> None:
    out.set(msg.get_body().decode("utf-8").upper())


@app.queue_trigger(arg_name="msg", queue_name="%Q%-forwarded", connection="AzureWebJobsStorage")
def forwarded(msg: func.QueueMessage) -> None:
    record("forwarded", body=msg.get_body().decode("utf-8"))


@app.queue_trigger(arg_name="msg", queue_name="%QUEUE_NOT_SET%", connection="AzureWebJobsStorage")
def missing_setting(msg: func.QueueMessage) -> None:
    record("missing_setting")


@app.queue_trigger(arg_name="msg", queue_name="bad_name", connection="AzureWebJobsStorage")
def bad_name(msg: func.QueueMessage) -> None:
    record("bad_name")


@app.route(route="alive")
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("yes")
