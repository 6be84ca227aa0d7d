"""Reads an app directory's local.settings.json and host.json the way Core Tools does."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(Exception):
    """A settings file exists but cannot be used; the message says which and why."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must contain a JSON object")
    return data


def load_local_settings(app_dir: Path) -> dict[str, str]:
    """Return the Values of local.settings.json (empty when the file is absent)."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    values = _read_json(path).get("Values", {})
    if not isinstance(values, dict):
        raise SettingsError(f"{path}: 'Values' must be an object")
    return {str(k): "" if v is None else str(v) for k, v in values.items()}


def apply_local_settings(
    values: dict[str, str], environ: dict[str, str] | None = None
) -> list[str]:
    """Copy settings into the environment; a variable already set in the process wins.

    Core Tools does the same, which lets a shell or a test override one setting without
    editing the file. Returns the names that were skipped because they were already set.
    """
    env = os.environ if environ is None else environ
    skipped = []
    for key, value in values.items():
        # As in Core Tools, a variable set to the empty string does not block the file's value.
        if env.get(key):
            skipped.append(key)
        else:
            env[key] = value
    return skipped


@dataclass(frozen=True)
class DurableOptions:
    """The host.json durableTask settings devhost honours."""

    hub_name: str = "TestHubName"
    max_concurrent_activities: int = 10 * (os.cpu_count() or 1)
    max_concurrent_orchestrators: int = 10 * (os.cpu_count() or 1)
    store_inputs_in_history: bool = False


@dataclass(frozen=True)
class HostOptions:
    """The parts of host.json that change how devhost hosts the app."""

    route_prefix: str = "api"
    durable: DurableOptions = field(default_factory=DurableOptions)
    raw: dict[str, Any] = field(default_factory=dict)


def _positive_int(section: dict[str, Any], key: str, default: int, where: str) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SettingsError(f"host.json {where}.{key} must be a positive integer, got {value!r}")
    return value


def load_host_options(app_dir: Path) -> HostOptions:
    """Parse host.json; a missing file gives the host's defaults."""
    path = app_dir / "host.json"
    raw = _read_json(path) if path.exists() else {}
    extensions = raw.get("extensions") or {}
    http = extensions.get("http") or {}
    prefix = http.get("routePrefix", "api")
    if not isinstance(prefix, str):
        raise SettingsError("host.json extensions.http.routePrefix must be a string")
    durable_raw = extensions.get("durableTask") or {}
    defaults = DurableOptions()
    hub_name = resolve_app_setting_expression(str(durable_raw.get("hubName", defaults.hub_name)))
    durable = DurableOptions(
        hub_name=hub_name,
        max_concurrent_activities=_positive_int(
            durable_raw,
            "maxConcurrentActivityFunctions",
            defaults.max_concurrent_activities,
            "extensions.durableTask",
        ),
        max_concurrent_orchestrators=_positive_int(
            durable_raw,
            "maxConcurrentOrchestratorFunctions",
            defaults.max_concurrent_orchestrators,
            "extensions.durableTask",
        ),
        store_inputs_in_history=bool(durable_raw.get("storeInputsInOrchestrationHistory", False)),
    )
    return HostOptions(route_prefix=prefix.strip("/"), durable=durable, raw=raw)


def resolve_app_setting_expression(value: str) -> str:
    """Resolve a whole-value `%Setting%` binding expression from the environment."""
    if len(value) > 2 and value.startswith("%") and value.endswith("%"):
        name = value[1:-1]
        if name not in os.environ:
            raise SettingsError(f"app setting '{name}' referenced as %{name}% is not set")
        return os.environ[name]
    return value
