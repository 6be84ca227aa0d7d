"""The express benchmark's app: the real queue triggers and order workflow, short stub activities.

The triggers (`orders`, `orders-express`) and the `process_order` orchestrator are the app's
own; the activities keep their names and results but stand in for storage and provider calls
with a fixed wait (a round trip) and a little CPU (an idempotency key over the input), so
the benchmark measures queueing in the task hub rather than Azurite. `EXPRESS_BENCH_IO_SCALE`
scales every wait (default 1.0). host.json caps concurrency as the app's own host.json does.
`EXPRESS_BENCH_ONLY_QUEUE` (`orders` or `orders-express`) keeps only that queue's trigger.
"""

import hashlib
import json
import os
import time

import azure.durable_functions as df
import azure.functions as func

from orchestrators.order_workflow import bp as order_workflow
from triggers.orders_servicebus import (
    CONNECTION,
    EXPRESS_QUEUE,
    bp,
    express_bp,
    handle_order_message,
)

app = df.DFApp()
app.register_functions(order_workflow)


def _only(queue: str) -> None:
    """One queue's trigger over the app's own handler: a second task hub runs the same code for
    one queue, as a second function app would with the other trigger disabled
    (`AzureWebJobs.<function>.Disabled`)."""

    @app.function_name(f"only_{queue.replace('-', '_')}")
    @app.service_bus_queue_trigger(
        arg_name="msg", queue_name=queue, connection=CONNECTION, data_type=func.DataType.BINARY
    )
    @app.durable_client_input(client_name="client")
    async def only_queue(
        msg: func.ServiceBusMessage, client: df.DurableOrchestrationClient
    ) -> None:
        await handle_order_message(msg, client, queue=queue, express=queue == EXPRESS_QUEUE)


_ONLY_QUEUE = os.environ.get("EXPRESS_BENCH_ONLY_QUEUE")
if _ONLY_QUEUE:
    _only(_ONLY_QUEUE)
else:
    # The app's own two triggers, `orders` and `orders-express`.
    app.register_functions(bp)
    app.register_functions(express_bp)

# Milliseconds of waiting per call: in-region Table/Blob writes take about 5-20 ms, a payment
# or carrier API tens of milliseconds.
ROUND_TRIP_MS = {
    "record_order": 10,
    "reserve_stock": 15,
    "take_payment": 40,
    "ship_order": 30,
    "send_confirmation": 10,
    "set_order_status": 10,
    "release_stock": 15,
    "refund_payment": 40,
    "send_notification": 10,
    # Results: a status record and a topic message per update; a caller's webhook.
    "publish_job_update": 15,
    "deliver_webhook": 50,
}
_SCALE = float(os.environ.get("EXPRESS_BENCH_IO_SCALE", "1.0"))


def _work(activity: str, payload: dict) -> str:
    """What every real step does in some form: key the call, then wait for a remote answer."""
    key = hashlib.sha256(json.dumps([activity, payload], sort_keys=True).encode()).hexdigest()
    time.sleep(ROUND_TRIP_MS[activity] * _SCALE / 1000)
    return key


def _order_id(payload: dict) -> str:
    return payload["order_id"] if "order_id" in payload else payload["order"]["order_id"]


@app.activity_trigger(input_name="payload")
def record_order(payload: dict) -> dict:
    _work("record_order", payload)
    return {"status": "Received"}


@app.activity_trigger(input_name="payload")
def reserve_stock(payload: dict) -> dict:
    _work("reserve_stock", payload)
    return {"reserved": True}


@app.activity_trigger(input_name="payload")
def release_stock(payload: dict) -> dict:
    _work("release_stock", payload)
    return {"released": True}


@app.activity_trigger(input_name="payload")
def take_payment(payload: dict) -> dict:
    key = _work("take_payment", payload)
    return {"payment_id": f"pay-{key[:16]}"}


@app.activity_trigger(input_name="payload")
def refund_payment(payload: dict) -> dict:
    key = _work("refund_payment", payload)
    return {"refund_id": f"refund-{key[:16]}"}


@app.activity_trigger(input_name="payload")
def ship_order(payload: dict) -> dict:
    _work("ship_order", payload)
    return {"tracking_id": f"track-{_order_id(payload)}"}


@app.activity_trigger(input_name="payload")
def send_confirmation(payload: dict) -> dict:
    _work("send_confirmation", payload)
    return {"sent": True}


@app.activity_trigger(input_name="payload")
def send_notification(payload: dict) -> dict:
    _work("send_notification", payload)
    return {"sent": True}


@app.activity_trigger(input_name="payload")
def set_order_status(payload: dict) -> dict:
    _work("set_order_status", payload)
    return {"status": payload["status"]}


@app.activity_trigger(input_name="payload")
def publish_job_update(payload: dict) -> dict:
    _work("publish_job_update", payload)
    return {"sequence": payload["update"]["sequence"], "status_applied": True, "replied_to": None}


@app.activity_trigger(input_name="payload")
def deliver_webhook(payload: dict) -> dict:
    _work("deliver_webhook", payload)
    return {"delivered": True, "status": 204}
