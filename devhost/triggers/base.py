"""What every trigger source shares: the context it runs in and its start/stop contract."""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web
from azure.functions import meta

from devhost.bindings import BindingInputs
from devhost.durable.clock import Clock
from devhost.indexing import IndexedFunction
from devhost.invoker import InvocationResult, Invoker
from devhost.outputs import deliver_outputs
from devhost.settings import HostOptions


@dataclass
class TriggerContext:
    """Shared services for trigger sources."""

    invoker: Invoker
    inputs: BindingInputs
    state_dir: Path
    clock: Clock
    base_url: str
    app_dir: Path
    host_options: HostOptions

    async def invoke(
        self,
        fn: IndexedFunction,
        trigger_data: meta.Datum | None,
        trigger_metadata: Mapping[str, meta.Datum] | None = None,
    ) -> InvocationResult:
        """Invoke `fn` for one trigger event, then send its outputs.

        FunctionInvocationError if its code raised; OutputError if an output cannot be sent
        (the invocation then counts as failed, as in the host).
        """
        inputs = self.inputs.for_function(fn, trigger_data)
        result = await self.invoker.invoke(fn, inputs, trigger_metadata)
        await deliver_outputs(fn, result, self.app_dir)
        return result


class TriggerSource(abc.ABC):
    """Runs every function of one trigger type until stopped."""

    trigger_type: ClassVar[str]

    def __init__(self, context: TriggerContext, functions: list[IndexedFunction]) -> None:
        self.context = context
        self.functions = functions
        self.log = logging.getLogger(f"devhost.{self.trigger_type}")

    @abc.abstractmethod
    async def start(self) -> None:
        """Validate the functions' bindings and begin delivering events."""

    @abc.abstractmethod
    async def stop(self, grace: float) -> None:
        """Stop taking new work; let in-flight calls finish within `grace` seconds; give back
        (never complete) what did not finish, so it is delivered again later."""

    def routes(self) -> list[web.RouteDef]:
        """HTTP endpoints the source serves (e.g. the Event Grid blob webhook)."""
        return []

    def describe(self, fn: IndexedFunction) -> str:
        """One line for the start-up function list."""
        return fn.trigger_type

    def status(self) -> dict[str, Any]:
        return {}
