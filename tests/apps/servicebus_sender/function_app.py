"""A test app that sends with the azure-servicebus SDK, as an app does for replies and events."""

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

import azure.functions as func
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
CONNECTION = "ServiceBusConnection"


def _message(spec: dict) -> ServiceBusMessage:
    delay = spec.get("scheduled_in_seconds")
    ttl = spec.get("time_to_live_seconds")
    return ServiceBusMessage(
        spec.get("body", ""),
        message_id=spec.get("message_id"),
        correlation_id=spec.get("correlation_id"),
        content_type=spec.get("content_type"),
        subject=spec.get("subject"),
        reply_to=spec.get("reply_to"),
        to=spec.get("to"),
        application_properties=spec.get("properties"),
        time_to_live=timedelta(seconds=ttl) if ttl is not None else None,
        scheduled_enqueue_time_utc=(
            datetime.now(UTC) + timedelta(seconds=delay) if delay is not None else None
        ),
    )


def _failure(exc: Exception) -> func.HttpResponse:
    shown = {"error": type(exc).__name__, "module": type(exc).__module__, "text": str(exc)}
    return func.HttpResponse(json.dumps(shown), status_code=409, mimetype="application/json")


@app.route(route="send", methods=["POST"])
def send(req: func.HttpRequest) -> func.HttpResponse:
    """Send `messages` to `queue` or `topic`, one by one or (with `batch`) as one batch."""
    spec = req.get_json()
    try:
        with ServiceBusClient.from_connection_string(os.environ[CONNECTION]) as client:
            sender = (
                client.get_topic_sender(topic_name=spec["topic"])
                if "topic" in spec
                else client.get_queue_sender(queue_name=spec["queue"])
            )
            with sender:
                messages = [_message(m) for m in spec["messages"]]
                if spec.get("batch"):
                    batch = sender.create_message_batch()
                    for message in messages:
                        batch.add_message(message)
                    sender.send_messages(batch)
                else:
                    for message in messages:
                        sender.send_messages(message)
    except Exception as exc:  # the test reads what the app would see
        return _failure(exc)
    return func.HttpResponse(json.dumps({"sent": len(messages)}), mimetype="application/json")


@app.route(route="unsupported/{call}", methods=["POST"])
def unsupported(req: func.HttpRequest) -> func.HttpResponse:
    """Make one call devhost does not emulate and answer with the error the app got."""
    call = req.route_params["call"]
    connection = os.environ[CONNECTION]
    try:
        if call == "asyncio":
            asyncio.run(_async_send(connection))
        else:
            with ServiceBusClient.from_connection_string(connection) as client:
                if call == "receiver":
                    client.get_queue_receiver(queue_name="sender-replies")
                elif call == "schedule":
                    with client.get_queue_sender(queue_name="sender-replies") as sender:
                        sender.schedule_messages(ServiceBusMessage("x"), datetime.now(UTC))
    except Exception as exc:
        return _failure(exc)
    return func.HttpResponse("no error", status_code=200)


async def _async_send(connection: str) -> None:
    client = AsyncServiceBusClient.from_connection_string(connection)
    async with client, client.get_queue_sender("sender-replies") as sender:
        await sender.send_messages(ServiceBusMessage("x"))


@app.route(route="publish", methods=["POST"])
@app.service_bus_topic_output(arg_name="event", topic_name="%EVENTS_TOPIC%", connection=CONNECTION)
def publish(req: func.HttpRequest, event: func.Out[str]) -> func.HttpResponse:
    """The output binding: it can set the body only (azure-functions-python-library#281)."""
    event.set(req.get_body().decode("utf-8"))
    return func.HttpResponse("published", status_code=202)
