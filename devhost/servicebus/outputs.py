"""Sends what a function set on its Service Bus output bindings, as the host does after success."""

from __future__ import annotations

import uuid
from pathlib import Path

from azure.functions import meta

from devhost.expressions import resolve
from devhost.indexing import IndexedFunction
from devhost.invoker import InvocationResult
from devhost.servicebus.client import send_message
from devhost.servicebus.models import SendResult
from devhost.servicebus.namespace import EntityNotFound
from devhost.servicebus.options import DEFAULT_CONNECTION

OUTPUT_TYPE = "serviceBus"
# The extension's StringToMessageConverter and ByteArrayToMessageConverter set these.
_CONTENT_TYPES = {"string": "text/plain", "bytes": "application/octet-stream"}


class OutputError(Exception):
    """An output binding devhost cannot send; the invocation counts as failed."""


def has_outputs(fn: IndexedFunction) -> bool:
    return any(
        b["type"] == OUTPUT_TYPE and (b.get("direction") == "OUT" or b["name"] == "$return")
        for b in fn.bindings
    )


def _datum(result: InvocationResult, name: str) -> meta.Datum | None:
    return result.return_value if name == "$return" else result.outputs.get(name)


def send_outputs(fn: IndexedFunction, result: InvocationResult, app_dir: Path) -> list[SendResult]:
    """Send each Service Bus output the function set (blocking); OutputError if one cannot be."""
    sent = []
    for binding in fn.bindings:
        if binding["type"] != OUTPUT_TYPE:
            continue
        datum = _datum(result, binding["name"])
        if datum is None or datum.value is None:
            continue
        topic = binding.get("topicName")
        entity = resolve(str(topic or binding.get("queueName") or ""))
        value = datum.value
        body = value if isinstance(value, bytes) else str(value).encode("utf-8")
        try:
            result = send_message(
                entity,
                body,
                message_id=uuid.uuid4().hex,
                content_type=_CONTENT_TYPES.get(datum.type or "", "text/plain"),
                topic=bool(topic),
                connection=resolve(str(binding.get("connection") or DEFAULT_CONNECTION)),
                app_dir=app_dir,
            )
        except EntityNotFound as exc:
            raise OutputError(f"function '{fn.name}' cannot send its output: {exc}") from exc
        sent.append(result)
    return sent
