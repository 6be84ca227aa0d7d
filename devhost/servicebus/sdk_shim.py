"""Sends the app's azure-servicebus calls for the Service Bus emulator to devhost's stand-in.

Apps send replies and topic events with the SDK (the Python output binding sets only a body),
and locally their connection string is the emulator's (`UseDevelopmentEmulator=true`), which
cannot run where devhost does. devhost installs this in its own process before importing the
app. Only calls given such a connection string change:

- `azure.servicebus.ServiceBusClient.from_connection_string(...)` returns a
  `StandInServiceBusClient` (sdk_client.py) that sends to the stand-in;
- `azure.servicebus.aio.ServiceBusClient.from_connection_string(...)` raises
  NotImplementedError naming devhost, instead of trying to reach an emulator that is not there.

Every other call, and every call with another connection string, is the SDK's own.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from devhost.connections import is_development_emulator

log = logging.getLogger("devhost.servicebus")
_MARK = "__devhost_standin__"


def install(app_dir: Path) -> bool:
    """Patch azure-servicebus in this process; False when it is not installed (nothing to do)."""
    try:
        import azure.servicebus as sync
        import azure.servicebus.aio as aio
    except ImportError:
        return False
    from devhost.servicebus.sdk_client import StandInServiceBusClient

    announced = False

    def standin(klass: type, conn_str: str, **kwargs: Any) -> Any:
        nonlocal announced
        client = StandInServiceBusClient(conn_str, app_dir)
        if not announced:  # once per process: the app may create a client per send
            announced = True
            log.info(
                "The app's ServiceBusClient for the Service Bus emulator sends to devhost's "
                "stand-in on AzureWebJobsStorage (sending only; see docs/devhost-triggers.md)"
            )
        return client

    _divert(sync.ServiceBusClient, standin)
    _divert(aio.ServiceBusClient, _refuse_asyncio)
    log.debug("azure-servicebus calls for the Service Bus emulator go to devhost's stand-in")
    return True


def _refuse_asyncio(klass: type, conn_str: str, **kwargs: Any) -> Any:
    raise NotImplementedError(
        "devhost's Service Bus stand-in does not support the asyncio client "
        "(azure.servicebus.aio.ServiceBusClient.from_connection_string). The connection string "
        "is the Service Bus emulator's (UseDevelopmentEmulator=true), which devhost stands in "
        "for: only sending with the sync azure.servicebus.ServiceBusClient is emulated (call "
        "it from async code with asyncio.to_thread)."
    )


def _divert(cls: type, replacement: Any) -> None:
    """Make `cls.from_connection_string` call `replacement` for emulator connection strings."""
    original = cls.__dict__["from_connection_string"]
    if getattr(original.__func__, _MARK, False):
        return  # installed already

    @functools.wraps(original.__func__)
    def from_connection_string(klass: type, conn_str: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(conn_str, str) and is_development_emulator(conn_str):
            return replacement(klass, conn_str, **kwargs)
        return original.__get__(None, klass)(conn_str, *args, **kwargs)

    setattr(from_connection_string, _MARK, True)
    cls.from_connection_string = classmethod(from_connection_string)  # type: ignore[attr-defined]


def installed() -> bool:
    """True once install() has patched the SDK in this process."""
    try:
        from azure.servicebus import ServiceBusClient
    except ImportError:
        return False
    method = ServiceBusClient.__dict__["from_connection_string"]
    return bool(getattr(method.__func__, _MARK, False))
