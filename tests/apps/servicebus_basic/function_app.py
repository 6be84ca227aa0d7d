"""A test app whose Service Bus queue triggers record every delivery in a journal file."""

import json
import os
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# No setting of this name exists in the tests, so devhost uses its Azurite stand-in.
CONNECTION = "ServiceBusConnection"


def _iso(moment):
    return None if moment is None else moment.isoformat()


def record(function: str, msg: func.ServiceBusMessage, **extra) -> None:
    entry = {
        "function": function,
        "message_id": msg.message_id,
        "delivery_count": msg.delivery_count,
        "body_hex": msg.get_body().hex(),
        "at": time.time(),
        **extra,
    }
    with open(os.environ["SB_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps(entry) + "\n")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%PROPS_QUEUE%", connection=CONNECTION)
def properties(msg: func.ServiceBusMessage) -> None:
    record(
        "properties",
        msg,
        content_type=msg.content_type,
        correlation_id=msg.correlation_id,
        reply_to=msg.reply_to,
        subject=msg.subject,
        label=msg.label,
        to=msg.to,
        session_id=msg.session_id,
        reply_to_session_id=msg.reply_to_session_id,
        partition_key=msg.partition_key,
        transaction_partition_key=msg.transaction_partition_key,
        application_properties=msg.application_properties,
        user_properties=msg.user_properties,
        sequence_number=msg.sequence_number,
        lock_token=msg.lock_token,
        dead_letter_source=msg.dead_letter_source,
        enqueued_time_utc=_iso(msg.enqueued_time_utc),
        expires_at_utc=_iso(msg.expires_at_utc),
        naive_times=msg.enqueued_time_utc.tzinfo is None and msg.expires_at_utc.tzinfo is None,
        not_sent_by_the_host={
            "time_to_live": msg.time_to_live,
            "scheduled_enqueue_time_utc": msg.scheduled_enqueue_time_utc,
            "locked_until": msg.locked_until,
            "dead_letter_reason": msg.dead_letter_reason,
            "dead_letter_error_description": msg.dead_letter_error_description,
            "enqueued_sequence_number": msg.enqueued_sequence_number,
            "state": msg.state,
        },
        metadata_keys=sorted(msg.metadata or {}),
    )


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="poison", connection=CONNECTION, data_type=func.DataType.BINARY
)
def poison(msg: func.ServiceBusMessage) -> None:
    fixed = os.path.exists(os.environ["SB_FIXED_FLAG"])
    record("poison", msg, correlation_id=msg.correlation_id, props=msg.application_properties)
    if not fixed:
        raise RuntimeError("cannot process this order yet")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="flaky", connection=CONNECTION)
def flaky(msg: func.ServiceBusMessage) -> None:
    record("flaky", msg)
    if msg.delivery_count == 1:
        raise ConnectionError("transient failure on the first delivery")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="short-lived", connection=CONNECTION)
def short_lived(msg: func.ServiceBusMessage) -> None:
    record("short_lived", msg)
    time.sleep(1.5)  # outlives the message's 1 s time to live
    raise RuntimeError("failed after the message expired")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="later", connection=CONNECTION)
def later(msg: func.ServiceBusMessage) -> None:
    record("later", msg, enqueued_time_utc=_iso(msg.enqueued_time_utc))


@app.service_bus_queue_trigger(arg_name="msg", queue_name="dedup", connection=CONNECTION)
def dedup(msg: func.ServiceBusMessage) -> None:
    record("dedup", msg)


@app.service_bus_queue_trigger(arg_name="msg", queue_name="not-declared", connection=CONNECTION)
def undeclared(msg: func.ServiceBusMessage) -> None:
    record("undeclared", msg)


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="raw", connection=CONNECTION, data_type=func.DataType.BINARY
)
def raw(msg: func.ServiceBusMessage) -> None:
    record("raw", msg)
    json.loads(msg.get_body())  # the function decides what a malformed body means


@app.service_bus_queue_trigger(arg_name="msg", queue_name="raw-text", connection=CONNECTION)
def raw_text(msg: func.ServiceBusMessage) -> None:
    record("raw_text", msg)


@app.service_bus_queue_trigger(arg_name="body", queue_name="plain", connection=CONNECTION)
def plain(body: str) -> None:
    with open(os.environ["SB_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps({"function": "plain", "body": body, "at": time.time()}) + "\n")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="workflows", connection=CONNECTION)
@app.durable_client_input(client_name="client")
async def start_workflow(
    msg: func.ServiceBusMessage, client: df.DurableOrchestrationClient
) -> None:
    # One message, one instance: the message id is the instance id.
    await client.start_new("echo", instance_id=msg.message_id, client_input=msg.get_body().decode())


@app.orchestration_trigger(context_name="context")
def echo(context: df.DurableOrchestrationContext):
    return context.get_input()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="requests", connection=CONNECTION)
@app.service_bus_queue_output(arg_name="reply", queue_name="answers", connection=CONNECTION)
def answer(msg: func.ServiceBusMessage, reply: func.Out[str]) -> None:
    reply.set("re: " + msg.get_body().decode())


@app.service_bus_queue_trigger(arg_name="msg", queue_name="answers", connection=CONNECTION)
def answers(msg: func.ServiceBusMessage) -> None:
    record("answers", msg, content_type=msg.content_type)
