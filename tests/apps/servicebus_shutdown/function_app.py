"""A test app whose Service Bus triggers take as long as the message says, to test shutdown."""

import asyncio
import json
import os
import time

import azure.functions as func

app = func.FunctionApp()
CONNECTION = "ServiceBusConnection"


def _record(event: str, msg: func.ServiceBusMessage) -> None:
    entry = {
        "event": event,
        "message_id": msg.message_id,
        "delivery_count": msg.delivery_count,
        "pid": os.getpid(),
        "at": time.time(),
    }
    with open(os.environ["SB_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps(entry) + "\n")


def _seconds(msg: func.ServiceBusMessage) -> float:
    # Only the first delivery is slow, so a redelivery finishes at once.
    return float(json.loads(msg.get_body())["sleep"]) if msg.delivery_count == 1 else 0.0


@app.service_bus_queue_trigger(arg_name="msg", queue_name="work-async", connection=CONNECTION)
async def work_async(msg: func.ServiceBusMessage) -> None:
    _record("started", msg)
    await asyncio.sleep(_seconds(msg))
    _record("finished", msg)


@app.service_bus_queue_trigger(arg_name="msg", queue_name="work-sync", connection=CONNECTION)
def work_sync(msg: func.ServiceBusMessage) -> None:
    _record("started", msg)
    time.sleep(_seconds(msg))
    _record("finished", msg)
