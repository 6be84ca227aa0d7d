"""Reads an app directory's local.settings.json and host.json the way Core Tools does."""

from __future__ import annotations

import codecs
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(Exception):
    """A settings file exists but cannot be used; the message says which and why."""


# File.ReadAllText picks the encoding from a byte order mark and reads UTF-8 otherwise.
# UTF-32 LE comes before UTF-16 LE: its mark starts with the same two bytes.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(path: Path, data: bytes) -> str:
    encoding = next((name for bom, name in _BYTE_ORDER_MARKS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        label = encoding.removesuffix("-sig").upper()
        raise SettingsError(f"{path} is not valid {label} text: {exc}") from exc


# A JSON string (kept as is), a // comment, a /* */ comment, or an unterminated /*.
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"?|//[^\r\n]*|/\*.*?\*/|/\*', re.DOTALL)


def strip_json_comments(text: str) -> str:
    """Blank out // and /* */ comments outside JSON strings, as Newtonsoft's reader skips them.

    Comments become spaces with their line breaks kept, so json's error positions stay right.
    """

    def blank(m: re.Match[str]) -> str:
        token = m.group()
        if token.startswith('"'):
            return token
        if token == "/*":
            line = text.count("\n", 0, m.start()) + 1
            raise ValueError(f"unterminated /* comment starting on line {line}")
        return re.sub(r"[^\r\n]", " ", token)

    return _STRING_OR_COMMENT.sub(blank, text)


def _read_json(path: Path) -> dict[str, Any]:
    text = _decode(path, path.read_bytes())
    try:
        data = json.loads(strip_json_comments(text))
    except ValueError as exc:
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


def _section(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """A nested host.json object; absent or null gives an empty one."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingsError(
            f"host.json {where}{key} must be a JSON object, got {json.dumps(value)[:60]}"
        )
    return value


def _check_version(path: Path, raw: dict[str, Any]) -> None:
    """HostJsonFileConfigurationSource.InitializeHostConfig: 'version' must be "2.0".

    The host fills an empty host.json ({}) with {"version": "2.0"}, so only that one passes
    without it.
    """
    if not raw:
        return
    version = raw.get("version")
    if version is None or version == "":
        raise SettingsError(
            f'{path} is missing the required \'version\' property; add "version": "2.0" '
            "(see https://aka.ms/functions-hostjson)"
        )
    if version != "2.0":
        shown = version if isinstance(version, str) else json.dumps(version)
        hint = (
            " It is the schema version of host.json, not the Functions runtime version."
            if shown.startswith("3")
            else ""
        )
        raise SettingsError(
            f"{path}: '{shown}' is an invalid value for the 'version' property; "
            f'it must be the string "2.0".{hint}'
        )


# AzureStorageOptions.ValidateHubName: the name must be a valid table name (letters and digits,
# starting with a letter, 3 to 63 characters), container and queue name, and at most 50 long.
_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,49}")
HUB_NAME_RULES = "only letters and digits, start with a letter, and be 3 to 50 characters long"


def is_valid_hub_name(name: str) -> bool:
    """True when `name` follows the Durable extension's Azure Storage task hub naming rules."""
    return _HUB_NAME.fullmatch(name) is not None


def _uses_azure_storage(durable: dict[str, Any]) -> bool:
    provider = _section(durable, "storageProvider", "extensions.durableTask.")
    kind = provider.get("type")
    return kind is None or (isinstance(kind, str) and kind.lower() == "azurestorage")


def _hub_name(durable: dict[str, Any], default: str) -> str:
    value = durable.get("hubName")
    if value is None:
        return default
    if not isinstance(value, str):
        raise SettingsError("host.json extensions.durableTask.hubName must be a string")
    hub = resolve_app_setting_expression(value)
    if _uses_azure_storage(durable) and not is_valid_hub_name(hub):
        raise SettingsError(
            f"host.json extensions.durableTask.hubName: the task hub name '{hub}' must contain "
            f"{HUB_NAME_RULES} (the Durable extension's Azure Storage naming rules)"
        )
    return hub


def _bool(section: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = section.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SettingsError(f"host.json {where}.{key} must be true or false, got {value!r}")
    return value


def _durable_options(durable: dict[str, Any]) -> DurableOptions:
    defaults = DurableOptions()
    where = "extensions.durableTask"
    return DurableOptions(
        hub_name=_hub_name(durable, defaults.hub_name),
        max_concurrent_activities=_positive_int(
            durable, "maxConcurrentActivityFunctions", defaults.max_concurrent_activities, where
        ),
        max_concurrent_orchestrators=_positive_int(
            durable,
            "maxConcurrentOrchestratorFunctions",
            defaults.max_concurrent_orchestrators,
            where,
        ),
        store_inputs_in_history=_bool(
            durable, "storeInputsInOrchestrationHistory", defaults.store_inputs_in_history, where
        ),
    )


def load_host_options(app_dir: Path) -> HostOptions:
    """Parse host.json; a missing file gives the host's defaults."""
    path = app_dir / "host.json"
    raw = _read_json(path) if path.exists() else {}
    _check_version(path, raw)
    extensions = _section(raw, "extensions", "")
    http = _section(extensions, "http", "extensions.")
    prefix = http.get("routePrefix", "api")
    if not isinstance(prefix, str):
        raise SettingsError("host.json extensions.http.routePrefix must be a string")
    durable = _durable_options(_section(extensions, "durableTask", "extensions."))
    return HostOptions(route_prefix=prefix.strip("/"), durable=durable, raw=raw)


def resolve_app_setting_expression(value: str) -> str:
    """Resolve a whole-value `%Setting%` binding expression from the environment."""
    if len(value) > 2 and value.startswith("%") and value.endswith("%"):
        name = value[1:-1]
        if name not in os.environ:
            raise SettingsError(f"app setting '{name}' referenced as %{name}% is not set")
        return os.environ[name]
    return value
