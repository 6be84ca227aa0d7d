"""Indexes function_app the way the Python worker does and checks what the host would see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Indexing runs in a child interpreter: get_functions() builds each function once per app
# object, and a fresh process also proves that importing function_app has no hidden setup.
_INDEX_SCRIPT = """
import json
import function_app
print(json.dumps({
    fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]
    for fn in function_app.app.get_functions()
}))
"""


def index_app(project_root: Path) -> dict[str, list[dict[str, object]]]:
    completed = subprocess.run(
        [sys.executable, "-c", _INDEX_SCRIPT],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_health_probe_is_an_anonymous_get_on_api_health(project_root: Path) -> None:
    functions = index_app(project_root)

    trigger = functions["health"][0]
    assert trigger["type"] == "httpTrigger"
    assert trigger["route"] == "health"
    assert trigger["methods"] == ["GET"]
    assert trigger["authLevel"] == "ANONYMOUS"


def test_host_json_routes_under_api(project_root: Path) -> None:
    host = json.loads((project_root / "host.json").read_text())

    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == "api"
    assert host["extensions"]["durableTask"]["hubName"] == "JobsHub"
