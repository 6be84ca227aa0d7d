"""The suite's own convention: every check in tests/infra/platform names the platform rule it
checks and where that rule is published, so a failure says which rule the change broke."""

from __future__ import annotations

import ast
from pathlib import Path

SUITE = Path(__file__).parent


def unsourced_tests() -> list[str]:
    missing = []
    for module in sorted(SUITE.glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                doc = ast.get_docstring(node) or ""
                if "Source:" not in doc:
                    missing.append(f"{module.name}::{node.name}")
    return missing


def test_every_platform_check_names_its_rule_and_source():
    """Each test's docstring names its rule and has a `Source:` line.
    Source: this project's developers' guide ('every platform rule we know of is a test with its
    source') and docs/infra.md, 'Platform rules checked in CI'."""
    assert len(list(SUITE.glob("test_*.py"))) >= 7
    assert not unsourced_tests(), unsourced_tests()
