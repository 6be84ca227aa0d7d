"""Fills a function's input bindings other than its trigger (the durable client today)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.functions import meta

from devhost.expressions import BindingExpressionError, resolve
from devhost.indexing import IndexedFunction
from devhost.settings import HUB_NAME_RULES, is_valid_hub_name


class UnsupportedBinding(Exception):
    """The function uses a binding devhost cannot provide yet; the message says which."""


def durable_client_task_hub(binding: dict[str, Any]) -> str | None:
    """The hub a durableClient binding names (`task_hub=`), `%Setting%`s resolved; None for the
    app's own. The attribute's TaskHub is [AutoResolve]: an unset setting is an error."""
    value = binding.get("taskHub")
    if not value:
        return None
    return resolve(value) or None


def check_durable_client_hubs(functions: list[IndexedFunction]) -> None:
    """Mark a function whose durable client names an unset setting or an invalid hub as failed
    to load, as the host fails to index it ("'%X%' does not resolve to a value")."""
    for fn in functions:
        for binding in fn.bindings:
            if fn.load_error or binding.get("type") != "durableClient":
                continue
            name = binding.get("name")
            try:
                hub = durable_client_task_hub(binding)
            except BindingExpressionError as exc:
                fn.load_error = f"the durable client binding '{name}': its taskHub {exc}"
                continue
            if hub is not None and not is_valid_hub_name(hub):
                fn.load_error = (
                    f"the durable client binding '{name}' names the task hub '{hub}', which "
                    f"must contain {HUB_NAME_RULES}"
                )


class BindingInputs:
    """Builds the `inputs` mapping the invoker passes to a function.

    `durable_client_json(hub)` is a durable client's binding data for the hub its binding names
    (None: the app's own).
    """

    def __init__(self, durable_client_json: Callable[[str | None], str]) -> None:
        self._durable_client_json = durable_client_json

    def for_function(
        self, fn: IndexedFunction, trigger_data: meta.Datum | None
    ) -> dict[str, meta.Datum | None]:
        inputs: dict[str, meta.Datum | None] = {}
        if fn.load_error:
            return inputs  # the invoker refuses it with the load error
        for binding in fn.bindings:
            if binding.get("direction") == "OUT" or binding["name"] == "$return":
                continue
            btype = binding["type"]
            if btype == fn.trigger_type:
                inputs[binding["name"]] = trigger_data
            elif btype == "durableClient":
                data = self._durable_client_json(durable_client_task_hub(binding))
                inputs[binding["name"]] = meta.Datum(data, "string")
            else:
                raise UnsupportedBinding(
                    f"function '{fn.name}' uses a '{btype}' input binding, which devhost "
                    "does not support yet"
                )
        return inputs
