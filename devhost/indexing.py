"""Imports a v2-model app and indexes its functions with the azure-functions library itself."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

APP_MODULE = "function_app"

# Binding types whose function is addressed by name from an orchestration, with the binding
# property that overrides that name (the extension's attribute binding providers do the same).
DURABLE_NAME_PROPERTY = {
    "orchestrationTrigger": "orchestration",
    "activityTrigger": "activity",
    "entityTrigger": "entityName",
}


class IndexingError(Exception):
    """The app cannot be loaded or indexed; the message is what the worker would report."""


@dataclass
class IndexedFunction:
    """One function as the worker sees it after indexing."""

    name: str
    function_id: str
    user_function: Callable[..., Any]
    bindings: list[dict[str, Any]]
    type_hints: dict[str, Any]
    wants_context: bool
    is_async: bool
    load_error: str | None = None

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if b["type"].endswith("Trigger"))

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    @property
    def durable_name(self) -> str | None:
        """The name orchestrations use to call this function, if it is a durable function."""
        prop = DURABLE_NAME_PROPERTY.get(self.trigger_type)
        if prop is None:
            return None
        return self.trigger.get(prop) or self.name


def import_app_module(app_dir: Path) -> Any:
    """Import `function_app` from app_dir once, under that module name, as the worker does."""
    app_dir = app_dir.resolve()
    entry = app_dir / f"{APP_MODULE}.py"
    if not entry.exists():
        raise IndexingError(f"{entry} not found: a v2-model app needs function_app.py at its root")
    loaded = sys.modules.get(APP_MODULE)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "")).resolve() == entry:
            return loaded
        raise IndexingError(f"another {APP_MODULE} module is already loaded from {loaded.__file__}")
    sys.path.insert(0, str(app_dir))
    try:
        return importlib.import_module(APP_MODULE)
    except Exception as exc:  # the worker reports any import failure as an indexing error
        raise IndexingError(f"importing {entry} failed: {type(exc).__name__}: {exc}") from exc


def find_function_app(module: Any) -> func.FunctionRegister:
    """Return the single FunctionRegister instance the worker requires at module level."""
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise IndexingError(
            f"function_app.py must define exactly one FunctionApp (or DFApp), found {len(apps)}"
        )
    return apps[0]


# SDK-type binding packages (e.g. Service Bus settlement) call back into the host over gRPC.
_SDK_TYPE_PACKAGES = "azurefunctions.extensions"


def _validate_parameters(
    fn: Callable[..., Any], bindings: list[dict[str, Any]], hints: dict[str, Any]
) -> str | None:
    """Mirror the worker's check that parameters and bindings match one to one."""
    params = set(inspect.signature(fn).parameters)
    names = {b["name"] for b in bindings if b["name"] != "$return"}
    missing = names - params
    if missing:
        return f"parameters declared in bindings but missing from the function: {sorted(missing)}"
    extra = params - names - {"context"}
    sdk_typed = sorted(
        p
        for p in extra
        if str(getattr(hints.get(p), "__module__", "")).startswith(_SDK_TYPE_PACKAGES)
    )
    if sdk_typed:
        return (
            f"parameters {sdk_typed} use an SDK-type binding package ({_SDK_TYPE_PACKAGES}...), "
            "such as Service Bus message settlement; those call back into the Functions host "
            "over gRPC, which devhost does not provide. See docs/devhost-triggers.md."
        )
    if extra:
        return f"the following parameters are not declared as bindings: {sorted(extra)}"
    return None


def index_functions(app: func.FunctionRegister) -> list[IndexedFunction]:
    """Index every function; `get_functions()` may be called only once per app object."""
    indexed = []
    for fn in app.get_functions():
        user_fn = fn.get_user_function()
        name = fn.get_function_name()
        bindings = [json.loads(raw) for raw in fn.get_raw_bindings()]
        try:
            hints = typing.get_type_hints(user_fn)
        except Exception:
            hints = dict(getattr(user_fn, "__annotations__", {}))
        binding_names = {b["name"] for b in bindings}
        wants_context = (
            "context" in inspect.signature(user_fn).parameters and "context" not in binding_names
        )
        indexed.append(
            IndexedFunction(
                name=name,
                function_id=str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
                user_function=user_fn,
                bindings=bindings,
                type_hints=hints,
                wants_context=wants_context,
                is_async=inspect.iscoroutinefunction(user_fn),
                load_error=_validate_parameters(user_fn, bindings, hints),
            )
        )
    return indexed


def load_and_index(app_dir: Path) -> list[IndexedFunction]:
    return index_functions(find_function_app(import_app_module(app_dir)))
