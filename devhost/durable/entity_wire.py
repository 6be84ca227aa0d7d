"""Durable entity messages in the extension's wire shapes: requests, responses, trigger input.

Every shape here is what the extension (v2.13) produces, so the SDK's entity and orchestrator
code reads them as in Azure: `RequestMessage` (the `EventSent` input and the entity's queue),
`ResponseMessage` (the `EventRaised` input a calling orchestration gets), the entity trigger's
input (`EntityTriggerAttributeBindingProvider.EntityContextToString`) and the SDK's
`EntityState` output (`TaskEntityShim.OutOfProcResult`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# GuidManager.UrlNamespaceValue: the extension's namespace for deterministic request ids.
_REQUEST_ID_NAMESPACE = uuid.UUID("9e952959-5e33-4daf-827f-2fa12937b875")
# Entity keys must not contain these (DurableClient.SignalEntityAsyncInternal).
_BAD_KEY = re.compile(r"[\\/#?\x00-\x1f\x7f]")
# The event name of an operation message (EntityMessageEventNames.RequestMessageEventName).
REQUEST_EVENT_NAME = "op"


class EntityWireError(ValueError):
    """An entity message or the entity function's output does not have the expected shape."""


def _compact(value: Any) -> str:
    """JSON as Newtonsoft writes it with Formatting.None (no spaces, non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def scheduler_id(name: str, key: str) -> str:
    """`@name@key`: the entity's instance id; names are case-insensitive (lower-cased)."""
    return f"@{name.lower()}@{key}"


def parse_scheduler_id(instance_id: str) -> tuple[str, str]:
    """(name, key) of `@name@key`; the key may itself contain `@`."""
    if not instance_id.startswith("@") or "@" not in instance_id[1:]:
        raise EntityWireError(f"'{instance_id}' is not an entity id of the form @name@key")
    name, key = instance_id[1:].split("@", 1)
    return name.lower(), key


def validate_key(key: str) -> None:
    if _BAD_KEY.search(key):
        # The extension passes the arguments of ArgumentException the other way round, so
        # its message is the parameter name with the explanation as the "parameter".
        raise EntityWireError(
            "entityKey (Parameter 'Entity keys must not contain /, \\, #, ?, or control "
            "characters.')"
        )


def unknown_entity_message(name: str, known: frozenset[str]) -> str:
    if known:
        listed = "', '".join(sorted(known))
        info = f"The following are the known entity functions: '{listed}'."
    else:
        info = "No entity functions are currently registered!"
    return (
        f"The function '{name}' doesn't exist, is disabled, or is not an entity function. "
        f"Additional info: {info}"
    )


def dotnet_roundtrip(moment: datetime) -> str:
    """A UTC time in .NET's "o" format (seven fractional digits and Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def request_id(instance_id: str, current_utc: datetime, counter: int) -> str:
    """The id of an orchestration's entity request: DurableOrchestrationContext.NewGuid.

    A name-based (version 5) UUID of `<instance>_<CurrentUtcDateTime:o>_<counter>`, where the
    counter numbers the ids the extension's replay context created so far. GuidManager's byte
    swapping around SHA-1 makes it exactly RFC 4122's uuid5.
    """
    name = f"{instance_id}_{dotnet_roundtrip(current_utc)}_{counter}"
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, name))


def orchestration_input(action_input: str | None) -> str | None:
    """RequestMessage.input for an orchestrator's call or signal.

    The shim hands the SDK's JSON text to `SetInput` as a .NET string, which serializes it
    again: the operation input is a JSON string whose value is the SDK's JSON text.
    """
    return None if action_input is None else _compact(action_input)


def client_input(body: str, content_type: str | None) -> str | None:
    """RequestMessage.input for `POST entities/{name}/{key}` (HttpApiHandler).

    An empty body means no input. A JSON body is parsed and written back compactly (a JToken);
    any other body is the text itself, serialized as a JSON string.
    """
    if body == "":
        return None
    if (content_type or "").lower() == "application/json":
        try:
            return _compact(json.loads(body))
        except ValueError as exc:
            raise EntityWireError(f"Could not parse JSON content: {exc}") from exc
    return _compact(body)


def request_message(
    operation: str,
    input_text: str | None,
    request_guid: str,
    *,
    signal: bool,
    parent: str | None = None,
    parent_execution: str | None = None,
) -> dict[str, Any]:
    """A RequestMessage with Newtonsoft's property order; defaults are left out, as the
    extension's `DefaultValueHandling.Ignore` does."""
    message: dict[str, Any] = {"op": operation}
    if signal:
        message["signal"] = True
    if input_text is not None:
        message["input"] = input_text
    message["id"] = request_guid
    if parent is not None:
        message["parent"] = parent
    if parent_execution is not None:
        message["parentExecution"] = parent_execution
    return message


def request_text(message: dict[str, Any]) -> str:
    """The EventSent `Input`: the request serialized by DTFx's data converter."""
    return _compact(message)


def response_text(result: str | None, is_error: bool) -> str:
    """The EventRaised `Input` a caller gets: `exceptionType` only when the operation failed."""
    response: dict[str, Any] = {"result": result}
    if is_error:
        response["exceptionType"] = "Error"
    return _compact(response)


def trigger_input(
    name: str, key: str, exists: bool, state: str | None, batch: list[dict[str, Any]]
) -> str:
    """The entity trigger's input for one batch of queued RequestMessages."""
    return json.dumps(
        {
            "self": {"name": name, "key": key},
            "exists": exists,
            "state": state,
            "batch": [
                {
                    "name": request["op"],
                    "input": request.get("input"),
                    "isSignal": bool(request.get("signal")),
                }
                for request in batch
            ],
        }
    )


@dataclass(frozen=True)
class OperationResult:
    is_error: bool
    result: str | None


@dataclass(frozen=True)
class BatchOutcome:
    """What the entity function returned for one batch."""

    exists: bool
    state: str | None
    results: list[OperationResult]


def parse_batch_output(text: Any, batch_size: int) -> BatchOutcome:
    """Read the SDK's EntityState JSON; one result per operation, in order, is required."""
    if not isinstance(text, str):
        raise EntityWireError("the entity function returned no state")
    try:
        output = json.loads(text)
    except ValueError as exc:
        raise EntityWireError(f"the entity function returned invalid JSON: {exc}") from exc
    if not isinstance(output, dict) or not isinstance(output.get("results"), list):
        raise EntityWireError("the entity function's output has no results list")
    results = output["results"]
    if len(results) != batch_size:
        raise EntityWireError(
            f"the entity function returned {len(results)} results for {batch_size} operations"
        )
    exists = bool(output.get("entityExists"))
    state = output.get("entityState")
    if state is not None and not isinstance(state, str):
        raise EntityWireError("the entity function's entityState is not JSON text")
    return BatchOutcome(
        exists=exists,
        state=state if exists else None,
        results=[OperationResult(bool(r.get("isError")), r.get("result")) for r in results],
    )
