"""A test app with two subscriptions of one topic, each with its own trigger, and a journal."""

import json
import os
import time

import azure.functions as func

app = func.FunctionApp()

# No setting of this name exists in the tests, so devhost uses its Azurite stand-in.
CONNECTION = "ServiceBusConnection"


def _iso(moment):
    return None if moment is None else moment.isoformat()


def record(function: str, msg: func.ServiceBusMessage, **extra) -> None:
    entry = {
        "function": function,
        "message_id": msg.message_id,
        "delivery_count": msg.delivery_count,
        "sequence_number": msg.sequence_number,
        "body": msg.get_body().decode("utf-8", "replace"),
        "at": time.time(),
        "pid": os.getpid(),
        **extra,
    }
    with open(os.environ["SB_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps(entry) + "\n")


# Both names come from app settings, as the host resolves %Setting% in them.
@app.service_bus_topic_trigger(
    arg_name="msg",
    topic_name="%EVENTS_TOPIC%",
    subscription_name="%AUDIT_SUBSCRIPTION%",
    connection=CONNECTION,
)
def audit(msg: func.ServiceBusMessage) -> None:
    record(
        "audit",
        msg,
        content_type=msg.content_type,
        correlation_id=msg.correlation_id,
        reply_to=msg.reply_to,
        subject=msg.subject,
        to=msg.to,
        application_properties=msg.application_properties,
        lock_token=msg.lock_token,
        enqueued_time_utc=_iso(msg.enqueued_time_utc),
        expires_at_utc=_iso(msg.expires_at_utc),
        naive_times=msg.enqueued_time_utc.tzinfo is None,
        metadata_keys=sorted(msg.metadata or {}),
    )


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="tt-events", subscription_name="billing", connection=CONNECTION
)
def billing(msg: func.ServiceBusMessage) -> None:
    record("billing", msg, application_properties=msg.application_properties)
    if (msg.application_properties or {}).get("billing") == "broken":
        raise RuntimeError("billing cannot handle this event")
    if (msg.application_properties or {}).get("billing") == "flaky" and msg.delivery_count == 1:
        raise ConnectionError("transient failure on the first delivery")


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="tt-short", subscription_name="soon", connection=CONNECTION
)
def short_lived(msg: func.ServiceBusMessage) -> None:
    record("short_lived", msg)
    time.sleep(1.5)  # outlives the subscription's 1 s time to live
    raise RuntimeError("failed after the message expired")


# The shutdown test points SLOW_TOPIC at its own topic, apart from other hosts on the storage.
@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="%SLOW_TOPIC%", subscription_name="worker", connection=CONNECTION
)
async def slow(msg: func.ServiceBusMessage) -> None:
    import asyncio

    seconds = json.loads(msg.get_body()).get("sleep", 0)
    record("slow", msg, event="started")
    await asyncio.sleep(seconds)
    record("slow", msg, event="finished")


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="tt-events", subscription_name="ghost", connection=CONNECTION
)
def undeclared_subscription(msg: func.ServiceBusMessage) -> None:
    record("undeclared_subscription", msg)


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="tt-nowhere", subscription_name="any", connection=CONNECTION
)
def undeclared_topic(msg: func.ServiceBusMessage) -> None:
    record("undeclared_topic", msg)


@app.service_bus_topic_trigger(
    arg_name="msgs",
    topic_name="tt-events",
    subscription_name="audit",
    connection=CONNECTION,
    cardinality=func.Cardinality.MANY,
)
def batch(msgs: list[func.ServiceBusMessage]) -> None:
    pass


@app.service_bus_topic_trigger(
    arg_name="msg",
    topic_name="tt-events",
    subscription_name="audit",
    connection=CONNECTION,
    is_sessions_enabled=True,
)
def sessions(msg: func.ServiceBusMessage) -> None:
    pass


@app.route(route="alive", auth_level=func.AuthLevel.ANONYMOUS)
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("yes")
