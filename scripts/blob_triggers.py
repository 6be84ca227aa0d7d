"""Lists the app's Event Grid blob triggers as JSON, for the post-deploy Event Grid step.

Flex Consumption runs blob triggers only with the Event Grid source, and each needs an event
subscription to the blob extension's webhook (infra/eventgrid.bicep). The list comes from the
app's own index (the azure-functions library's get_functions(), as the worker builds it), so a
new blob trigger gets its subscription without anyone editing the deploy scripts.

    python scripts/blob_triggers.py [APP_DIR]   ->   [{"functionName": ..., "container": ...}]
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

SETTING = re.compile(r"%([^%]+)%")


def _resolve(path: str, env: dict[str, str]) -> str:
    def setting(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise SystemExit(
                f"blob trigger path {path!r} names the setting {name}, which is not set"
            )
        return env[name]

    return SETTING.sub(setting, path)


def event_grid_blob_triggers(app: Any, env: dict[str, str]) -> list[dict[str, str]]:
    """One entry per Event Grid blob trigger: the function's name and its container."""
    found = []
    for function in app.get_functions():
        for raw in function.get_raw_bindings():
            binding = json.loads(raw)
            if binding.get("type") != "blobTrigger" or binding.get("source") != "EventGrid":
                continue
            container = _resolve(binding["path"], env).split("/", 1)[0]
            if not container or "{" in container:
                raise SystemExit(f"{function.get_function_name()}: no fixed container in its path")
            found.append({"functionName": function.get_function_name(), "container": container})
    return sorted(found, key=lambda entry: entry["functionName"])


def load_app(app_dir: Path) -> Any:
    import azure.functions as func

    sys.path.insert(0, str(app_dir))
    module = importlib.import_module("function_app")
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(apps) != 1:
        raise SystemExit(f"{app_dir}/function_app.py must define exactly one function app")
    return apps[0]


def main(argv: list[str]) -> int:
    app_dir = Path(argv[1] if len(argv) > 1 else ".").resolve()
    triggers = event_grid_blob_triggers(load_app(app_dir), dict(os.environ))
    print(json.dumps(triggers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
