"""The import graph keeps its floors: triggers → orchestrators → activities → adapters → domain."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LAYERS = ["triggers", "orchestrators", "activities", "adapters", "domain"]
APP_PACKAGES = {*LAYERS, "app_config", "function_app"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[:rank])
        for path in _modules(layer):
            for name in _imports(path) & above:
                upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert upward == []


def test_domain_has_no_azure_sdk_and_reads_no_settings() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules("domain")
        for name in _imports(path) & {"azure", "app_config", "os"}
    ]
    assert offenders == []


def test_app_and_devhost_never_import_each_other() -> None:
    app_files = [p for layer in LAYERS for p in _modules(layer)]
    app_files += [ROOT / "app_config.py", ROOT / "function_app.py"]
    assert [str(p) for p in app_files if "devhost" in _imports(p)] == []
    devhost_files = _modules("devhost")
    assert [str(p) for p in devhost_files if _imports(p) & APP_PACKAGES] == []


def test_one_composition_root_builds_the_adapters_from_settings() -> None:
    """adapters/factory.py alone reads settings for adapters (the others take dataclasses from
    app_config, never call it) and no adapter imports it back, so there is no cycle."""
    offenders = []
    for path in _modules("adapters"):
        if path.name == "factory.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name == "app_config" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)} imports app_config")
            if isinstance(node, ast.ImportFrom) and node.module == "adapters.factory":
                offenders.append(f"{path.relative_to(ROOT)} imports the composition root")
    assert offenders == []
