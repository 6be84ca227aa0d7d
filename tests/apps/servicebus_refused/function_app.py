"""A test app with Service Bus triggers devhost refuses, beside one it runs."""

import azure.functions as func
from azurefunctions.extensions.bindings import servicebus

app = func.FunctionApp()
CONNECTION = "ServiceBusConnection"


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="events", subscription_name="audit", connection=CONNECTION
)
def on_topic(msg: func.ServiceBusMessage) -> None:
    pass


@app.service_bus_queue_trigger(
    arg_name="msgs", queue_name="batches", connection=CONNECTION, cardinality=func.Cardinality.MANY
)
def on_batch(msgs: list[func.ServiceBusMessage]) -> None:
    pass


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="sessions", connection=CONNECTION, is_sessions_enabled=True
)
def on_session(msg: func.ServiceBusMessage) -> None:
    pass


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="settled", connection=CONNECTION, auto_complete_messages=False
)
def settles_itself(msg: servicebus.ServiceBusReceivedMessage) -> None:
    pass


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="acted", connection=CONNECTION, auto_complete_messages=False
)
def settles_with_actions(
    msg: func.ServiceBusMessage, message_actions: servicebus.ServiceBusMessageActions
) -> None:
    pass


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="%MISSING_SETTING%", connection=CONNECTION
)
def unresolved(msg: func.ServiceBusMessage) -> None:
    pass


@app.route(route="alive")
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("yes")
