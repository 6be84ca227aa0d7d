"""Sends what a function wrote to its output bindings, after it succeeded, as the host does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devhost.indexing import IndexedFunction
from devhost.invoker import InvocationResult
from devhost.queues.outputs import has_queue_outputs, send_queue_outputs
from devhost.servicebus.outputs import OutputError, has_outputs, send_outputs

# Output types the HTTP server answers with itself, and the ones devhost sends.
_ANSWERED_BY_HTTP = "http"
_SENT = {"serviceBus", "queue"}


def unsupported_outputs(fn: IndexedFunction) -> list[str]:
    """Output binding types of `fn` that devhost cannot deliver yet."""
    return sorted(
        {
            b["type"]
            for b in fn.bindings
            if (b.get("direction") == "OUT" or b["name"] == "$return")
            and b["type"] not in _SENT
            and b["type"] != _ANSWERED_BY_HTTP
        }
    )


async def deliver_outputs(fn: IndexedFunction, result: InvocationResult, app_dir: Path) -> None:
    """Send every output the function set; OutputError when one cannot be sent."""
    missing = unsupported_outputs(fn)
    if missing:
        raise OutputError(
            f"function '{fn.name}' uses output bindings devhost does not support yet: "
            + ", ".join(missing)
        )
    if has_outputs(fn):
        await asyncio.to_thread(send_outputs, fn, result, app_dir)
    if has_queue_outputs(fn):
        await send_queue_outputs(fn, result, app_dir)
