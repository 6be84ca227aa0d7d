"""Fills a function's input bindings other than its trigger (the durable client today)."""

from __future__ import annotations

from collections.abc import Callable

from azure.functions import meta

from devhost.indexing import IndexedFunction


class UnsupportedBinding(Exception):
    """The function uses a binding devhost cannot provide yet; the message says which."""


class BindingInputs:
    """Builds the `inputs` mapping the invoker passes to a function."""

    def __init__(self, durable_client_json: Callable[[], str]) -> None:
        self._durable_client_json = durable_client_json

    def for_function(
        self, fn: IndexedFunction, trigger_data: meta.Datum | None
    ) -> dict[str, meta.Datum | None]:
        inputs: dict[str, meta.Datum | None] = {}
        for binding in fn.bindings:
            if binding.get("direction") == "OUT" or binding["name"] == "$return":
                continue
            btype = binding["type"]
            if btype == fn.trigger_type:
                inputs[binding["name"]] = trigger_data
            elif btype == "durableClient":
                inputs[binding["name"]] = meta.Datum(self._durable_client_json(), "string")
            else:
                raise UnsupportedBinding(
                    f"function '{fn.name}' uses a '{btype}' input binding, which devhost "
                    "does not support yet"
                )
        return inputs
