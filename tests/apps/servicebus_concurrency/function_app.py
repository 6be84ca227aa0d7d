"""A test app with one slow Service Bus trigger, to observe maxConcurrentCalls."""

import json
import os
import threading
import time

import azure.functions as func

app = func.FunctionApp()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="slow", connection="ServiceBusConnection")
def slow(msg: func.ServiceBusMessage) -> None:
    started = time.time()
    time.sleep(0.6)
    entry = {"message_id": msg.message_id, "start": started, "end": time.time()}
    entry["thread"] = threading.get_ident()
    with open(os.environ["SB_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps(entry) + "\n")
