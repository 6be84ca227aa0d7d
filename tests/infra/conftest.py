"""Shared fixtures of the infra tests: parsed Bicep (pycep), the app's own view of its settings,
entities and bindings, and the tables of docs/infra.md. Everything is derived, not listed, so
a new setting or entity in the code shows up here as a gap in infra."""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

import app_config

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
DOCS = REPO / "docs" / "infra.md"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


_PARSED: dict[Path, dict[str, Any]] = {}
_PARSER: list[BicepParser] = []


def parse(path: Path) -> dict[str, Any]:
    """pycep's parse of a file, once per session (building the parser is the slow part)."""
    if not _PARSER:
        _PARSER.append(BicepParser())
    if path not in _PARSED:
        _PARSED[path] = _PARSER[0].parse(file_path=path)
    return _PARSED[path]


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    """Every .bicep under infra/, parsed, keyed by its path relative to infra/."""
    return {str(path.relative_to(INFRA)): parse(path) for path in bicep_files()}


def resource_body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties block, looking through a loop or condition wrapper."""
    config = resource["config"]
    while "loop_type" in config or ("condition" in config and "config" in config):
        config = config["config"]
    return config


def resources(
    templates: dict[str, dict[str, Any]], resource_type: str, *, include_existing: bool = False
) -> list[tuple[str, str, dict[str, Any]]]:
    """(file, symbolic name, body) of every resource of a type in every template."""
    found = []
    for file, parsed in templates.items():
        for name, resource in parsed.get("resources", {}).items():
            if resource["type"].lower() != resource_type.lower():
                continue
            if resource["existing"] and not include_existing:
                continue
            found.append((file, name, resource_body(resource)))
    return found


def variable(templates: dict[str, dict[str, Any]], file: str, name: str) -> Any:
    return templates[file]["variables"][name]["value"]


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """pycep writes a literal 'x' and an identifier x the same way: a plain string that names a
    variable of the file is taken as that variable."""
    if isinstance(value, str) and value in variables:
        return resolve(variables[value]["value"], variables)
    if isinstance(value, list):
        return [resolve(item, variables) for item in value]
    return value


def union_of(value: Any, variables: Mapping[str, Any]) -> dict[str, Any]:
    """An object written as a variable, a literal or `union(a, b, ...)` of those, merged as
    Bicep merges it (a later argument wins)."""
    if isinstance(value, str) and value in variables:
        return union_of(variables[value]["value"], variables)
    function = value.get("function") if isinstance(value, dict) else None
    if isinstance(function, dict) and function.get("type") == "union":
        merged: dict[str, Any] = {}
        for argument in function["parameters"].values():
            merged.update(union_of(argument, variables))
        return merged
    assert isinstance(value, dict), f"not an object this reader knows: {value!r}"
    return dict(value)


# The function app modules of main.bicep, one per role of the codebase (APP_ROLE).
APP_MODULES = {"main": "functionApp", "express": "expressApp"}
FUNCTIONAPP = "modules/functionapp.bicep"


def with_arguments(value: Any, arguments: Mapping[str, Any]) -> Any:
    """A module's value with the caller's arguments in place of its parameters: a bare name, or
    `${name}` in an interpolation (written back as the argument's dotted path)."""
    if isinstance(value, str) and value in arguments:
        return arguments[value]
    if isinstance(value, str):

        def argument(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in arguments:
                return match.group(0)
            path = accessor(arguments[name])
            return "${" + (".".join(path) if path else str(arguments[name])) + "}"

        return re.sub(r"\$\{(\w+)\}", argument, value)
    return value


def app_settings(templates: dict[str, dict[str, Any]], app: str) -> dict[str, Any]:
    """Every app setting the site of `app` (main, express) gets, as main.bicep writes the
    values: the identity-based connections modules/functionapp.bicep adds for the identity it
    is given, then the settings main.bicep passes (a union of its variables)."""
    main = templates["main.bicep"]
    arguments = main["modules"][APP_MODULES[app]]["config"]["params"]
    connections = templates[FUNCTIONAPP]["variables"]["connectionSettings"]["value"]
    own = {name: with_arguments(value, arguments) for name, value in connections.items()}
    return {**own, **union_of(arguments["appSettings"], main["variables"])}


INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


def render(text: str, values: Mapping[str, str]) -> str:
    """A Bicep interpolation with each `${name}` replaced by its value; anything else inside
    `${...}` (a function call) is refused, so a changed expression fails the test using it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"cannot evaluate ${{{name}}} in {text!r}"
        return values[name]

    return INTERPOLATION.sub(value, text)


def accessor(value: Any) -> tuple[str, ...]:
    """`a.b.c` (pycep's nested property accessors) as ('a', 'b', 'c'); a name as ('name',)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict) and "operator" in value:
        operator = value["operator"]
        if operator["type"] in ("property_accessor", "index_accessor"):
            operands = operator["operands"]
            return accessor(operands["operand_1"]) + accessor(operands["operand_2"])
    return ()


# --- The app's side ------------------------------------------------------------------------


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name the code looks up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def settings_read_by_code(declared: Mapping[str, str], readers: set[str] | None = None) -> set[str]:
    """Every setting app_config reads: each public function taking `env` is called with a
    recording environment, empty and then holding the declared settings (so identity branches
    run too); names of `*_SETTING` constants and `*_SETTINGS` mappings are added from the
    source, for settings read by functions that need other arguments (timer schedules).
    With `readers`, only what those functions read (no constants)."""
    read: set[str] = set()
    for name, function in inspect.getmembers(app_config, inspect.isfunction):
        if name.startswith("_") or function.__module__ != app_config.__name__:
            continue
        if readers is not None and name not in readers:
            continue
        parameters = inspect.signature(function).parameters
        required = [
            p for p, spec in parameters.items() if p != "env" and spec.default is spec.empty
        ]
        if "env" not in parameters or required:
            continue
        for values in ({}, declared):
            env = RecordingEnv(values)
            # A missing or placeholder value may raise: what it read is what counts.
            with contextlib.suppress(ValueError):
                function(env=env)
            read |= env.read
    if readers is not None:
        return read
    tree = ast.parse(Path(app_config.__file__).read_text())
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        if target.id.endswith("_SETTING") and isinstance(node.value, ast.Constant):
            read.add(node.value.value)
        if target.id.endswith("_SETTINGS") and isinstance(node.value, ast.Dict):
            read |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return read


ENTITY_SUFFIXES = {
    "_table": "table",
    "_container": "container",
    "_queue": "queue",
    "_topic": "topic",
}


def entities_used_by_code() -> dict[str, set[str]]:
    """Tables, containers, Service Bus queues and topics the code names: the string defaults
    of app_config's dataclasses and `DEFAULT_*` constants, and the `*_CONTAINER`, `*_TABLE`,
    `*_QUEUE`, `*_TOPIC` constants of the app's packages."""
    found: dict[str, set[str]] = {kind: set() for kind in ENTITY_SUFFIXES.values()}

    def add(name: str, value: Any) -> None:
        lowered = name.lower()
        for suffix, kind in ENTITY_SUFFIXES.items():
            if lowered.endswith(suffix) and isinstance(value, str):
                found[kind].add(value)
            if lowered.endswith(suffix + "s") and isinstance(value, frozenset | set | tuple):
                found[kind] |= {v for v in value if isinstance(v, str)}

    for _, cls in inspect.getmembers(app_config, inspect.isclass):
        if not is_dataclass(cls) or cls.__module__ != app_config.__name__:
            continue
        for field in fields(cls):
            if field.default is not MISSING:
                add(field.name, field.default)
    for name, value in vars(app_config).items():
        if name.startswith("DEFAULT_"):
            add(name, value)
    for package in ("triggers", "activities", "adapters", "orchestrators"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.parse(path.read_text()).body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.isupper()
                    and isinstance(node.value, ast.Constant)
                ):
                    add(node.targets[0].id, node.value.value)
    return found


# Bindings of the Functions host's Storage queue extension (the other queues are Service Bus).
STORAGE_QUEUE_BINDINGS = ("queueTrigger", "queue")


def storage_queues(app_functions: list[dict[str, Any]]) -> set[str]:
    """Storage queues the app's bindings name. A `*_QUEUE` constant may name a Service Bus
    queue or a Storage queue; the binding that reads it tells which."""
    return {
        binding["queueName"]
        for function in app_functions
        for binding in function["bindings"]
        if binding["type"] in STORAGE_QUEUE_BINDINGS
    }


_INDEX_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import azure.functions as func
import function_app
apps = [v for v in vars(function_app).values() if isinstance(v, func.FunctionRegister)]
print(json.dumps([
    {"name": fn.get_function_name(), "bindings": [json.loads(b) for b in fn.get_raw_bindings()]}
    for fn in apps[0].get_functions()
]))
"""


def index_functions(role: str) -> list[dict[str, Any]]:
    """The functions and raw bindings one role's app registers (APP_ROLE), indexed in a fresh
    process (get_functions() may run once per app object, and other tests index the same
    module)."""
    result = subprocess.run(
        [sys.executable, "-c", _INDEX_SCRIPT, str(REPO)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "APP_ROLE": role},
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def app_functions() -> list[dict[str, Any]]:
    """The main app's functions (APP_ROLE=main: every function but the express queue's)."""
    return index_functions("main")


@pytest.fixture(scope="session")
def express_functions() -> list[dict[str, Any]]:
    """The express app's functions (APP_ROLE=express)."""
    return index_functions("express")


@pytest.fixture(scope="session")
def functions_by_app(
    app_functions: list[dict[str, Any]], express_functions: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    return {"main": app_functions, "express": express_functions}


# --- docs/infra.md -------------------------------------------------------------------------


def docs_table(heading: str, doc: Path = DOCS) -> list[dict[str, str]]:
    """The rows of the first Markdown table under `## heading` in `doc` (docs/infra.md)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}")
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    header, _separator, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


@pytest.fixture(scope="session")
def h() -> Any:
    """The helpers above, for test modules (tests import no helper modules: importlib mode)."""
    import types

    return types.SimpleNamespace(
        REPO=REPO,
        INFRA=INFRA,
        DOCS=DOCS,
        parse=parse,
        resources=resources,
        resource_body=resource_body,
        variable=variable,
        resolve=resolve,
        accessor=accessor,
        union_of=union_of,
        with_arguments=with_arguments,
        app_settings=app_settings,
        render=render,
        APP_MODULES=APP_MODULES,
        FUNCTIONAPP=FUNCTIONAPP,
        settings_read_by_code=settings_read_by_code,
        entities_used_by_code=entities_used_by_code,
        storage_queues=storage_queues,
        docs_table=docs_table,
        code_spans=code_spans,
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bicep_path" in metafunc.fixturenames:
        paths = bicep_files()
        metafunc.parametrize("bicep_path", paths, ids=[str(p.relative_to(INFRA)) for p in paths])
