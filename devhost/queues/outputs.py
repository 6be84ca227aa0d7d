"""Sends what a function set on its queue output bindings, as the queues extension does.

A `str` is the message text and `bytes` the body; a list sends one message per item. JSON (a
`func.QueueMessage`, or a dict in a list) reaches the host as a JObject, which the extension
stamps with `$AzureWebJobsParentId` (the causality marker) and writes as indented JSON
(`JObject.ToString()`). Queues are created when missing (AddMessageAndCreateIfNotExists), and
a listener of this host on the same queue polls at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError
from azure.functions import meta

from devhost.connections import DEFAULT_STORAGE, resolve_storage
from devhost.expressions import resolve
from devhost.indexing import IndexedFunction
from devhost.invoker import InvocationResult
from devhost.queues.message import MAX_MESSAGE_BYTES, encode_body
from devhost.queues.names import validate
from devhost.queues.options import QueueTriggerOptions
from devhost.queues.storage import StorageQueue
from devhost.queues.watchers import notify_sent
from devhost.servicebus.outputs import OutputError
from devhost.settings import SettingsError, load_host_options

OUTPUT_TYPE = "queue"


def has_queue_outputs(fn: IndexedFunction) -> bool:
    return any(
        b["type"] == OUTPUT_TYPE and (b.get("direction") == "OUT" or b["name"] == "$return")
        for b in fn.bindings
    )


@lru_cache(maxsize=8)
def _encoding(app_dir: Path) -> str:
    return QueueTriggerOptions.from_host_json(load_host_options(app_dir).raw).message_encoding


def _jobject_text(value: dict[str, Any], parent_id: str) -> str:
    stamped = {**value, "$AzureWebJobsParentId": parent_id}
    # Newtonsoft's indented form; its line breaks are Environment.NewLine, "\n" on Linux plans.
    return json.dumps(stamped, indent=2, ensure_ascii=False)


def bodies(datum: meta.Datum, parent_id: str) -> list[bytes]:
    """The message bodies one output value stands for."""
    if datum.type == "bytes":
        return [bytes(datum.value)]
    if datum.type != "json":
        return [str(datum.value).encode("utf-8")]
    value = json.loads(datum.value)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(_jobject_text(item, parent_id).encode("utf-8"))
        elif isinstance(item, str):
            out.append(item.encode("utf-8"))
        else:
            out.append(json.dumps(item).encode("utf-8"))
    return out


def _send(fn: IndexedFunction, result: InvocationResult, app_dir: Path) -> list[tuple[str, str]]:
    encoding = _encoding(app_dir)
    parent_id = str(uuid.uuid4())
    # Every message of every binding is encoded and checked before any is sent, so a refused
    # one never leaves the others sent (and sent again when the trigger retries).
    planned: list[tuple[str, str, list[str]]] = []
    for binding in fn.bindings:
        if binding["type"] != OUTPUT_TYPE:
            continue
        name = binding["name"]
        datum = result.return_value if name == "$return" else result.outputs.get(name)
        if datum is None or datum.value is None:
            continue
        queue_name = validate(resolve(str(binding.get("queueName") or "")).lower())
        connection = resolve(str(binding.get("connection") or "")) or DEFAULT_STORAGE
        texts = [encode_body(body, encoding) for body in bodies(datum, parent_id)]
        for text in texts:
            size = len(text.encode("utf-8"))
            if size > MAX_MESSAGE_BYTES:
                raise ValueError(
                    f"function '{fn.name}': a message for queue '{queue_name}' is {size} bytes "
                    "as stored; a storage queue message holds at most 64 KiB"
                )
        planned.append((connection, queue_name, texts))
    sent = []
    for connection, queue_name, texts in planned:
        queue = StorageQueue(_queue_service(connection), queue_name)
        for text in texts:
            queue.send_creating(text)
        sent.append((connection, queue_name))
    return sent


_services: dict[tuple[str, str | None, str | None], Any] = {}
_services_lock = threading.Lock()


def _queue_service(connection: str) -> Any:
    """One QueueServiceClient per storage account for the process, as the host keeps its
    clients (a client per invocation would leave its sockets to the garbage collector)."""
    storage = resolve_storage(connection)
    key = (storage.name, storage.connection_string, storage.queue_url)
    with _services_lock:
        service = _services.get(key)
        if service is None:
            service = _services[key] = storage.queue_service()
        return service


async def send_queue_outputs(fn: IndexedFunction, result: InvocationResult, app_dir: Path) -> None:
    """Send every queue output the function set; OutputError when one cannot be sent."""
    try:
        sent = await asyncio.to_thread(_send, fn, result, app_dir)
    except (AzureError, LookupError, ValueError, SettingsError) as exc:
        # ValueError covers invalid names, %Setting%s and encodings; LookupError a connection.
        raise OutputError(f"function '{fn.name}' cannot send its queue output: {exc}") from exc
    for connection, queue_name in sent:
        notify_sent(connection, queue_name)
