"""The failure texts the Durable extension produces, so app code sees the strings Azure gives it.

Shapes confirmed against the extension (v2.13) and DTFx sources and captured Azure histories;
see docs/devhost.md for the references.
"""

from __future__ import annotations

import json
from typing import Any

_RPC_EXCEPTION = "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException"


def activity_failure(name: str, type_name: str, message: str, stack: str) -> tuple[str, str]:
    """TaskFailed Reason and Details for an activity that raised `type_name: message`.

    The extension takes the text between "Exception:" and "Stack:" of the worker's error,
    keeping its leading space, hence the two spaces after "failed:".
    """
    friendly = f" {type_name}: {message}"
    worker_message = f"{type_name}: {message}"
    details = {
        "$type": "System.Exception, System.Private.CoreLib",
        "ClassName": "System.Exception",
        "Message": friendly,
        "Data": None,
        "InnerException": {
            "$type": f"{_RPC_EXCEPTION}, Microsoft.Azure.WebJobs.Script",
            "IsUserException": False,
            "RemoteStackTrace": stack,
            "RemoteMessage": worker_message,
            "RemoteTypeName": None,
            "Message": f"Result: Failure\nException: {worker_message}\nStack: {stack}",
            "Data": {"$type": "System.Collections.ListDictionaryInternal, System.Private.CoreLib"},
            "InnerException": None,
            "HelpLink": None,
            "Source": "System.Private.CoreLib",
            "HResult": -2146233088,
        },
        "HelpURL": None,
        "StackTraceString": None,
        "RemoteStackTraceString": None,
        "RemoteStackIndex": 0,
        "ExceptionMethod": None,
        "HResult": -2146233088,
        "Source": None,
        "WatsonBuckets": None,
    }
    return f"Activity function '{name}' failed: {friendly}", json.dumps(details)


def orchestrator_failure(name: str, error: str) -> tuple[str, str]:
    """Reason (also the instance's output) and Details of a failed orchestration."""
    return (
        f"Orchestrator function '{name}' failed: {error}",
        f"Message: {error}, StackTrace: (devhost has no .NET stack)",
    )


def parse_to_jtoken(text: str | None) -> Any:
    """The extension shows stored text as JSON when it parses, otherwise as a string."""
    if text is None:
        return None
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        return text
