"""The real monitor orchestrator over same-named stub activities, so no status endpoint (whose
free port would change every recording), Service Bus or status table is needed.

`MONITOR_STUBS_DIR/script.json` maps a monitor id to the outcomes of its polls in turn:
"pending", "done", "failed" (the failure condition holds), "transient" or
"permanent:<reason>"; polls past the list stay "pending". Published job updates succeed.
"""

import json
import os
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from domain.failures import PermanentFailure, TransientFailure
from orchestrators.monitor import bp as monitor_workflow

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(monitor_workflow)


@app.activity_trigger(input_name="payload")
def poll_monitor_status(payload: dict[str, Any]) -> dict[str, Any]:
    script_file = Path(os.environ["MONITOR_STUBS_DIR"]) / "script.json"
    script = json.loads(script_file.read_text()) if script_file.exists() else {}
    outcomes = script.get(payload["monitor_id"], [])
    number = int(payload["poll"]) - 1  # polls are numbered from 1 across runs
    outcome = outcomes[number] if number < len(outcomes) else "pending"
    if outcome == "transient":
        raise TransientFailure("the status endpoint answered 503")
    if outcome.startswith("permanent:"):
        raise PermanentFailure(outcome.removeprefix("permanent:"))
    return {
        "http_status": 200,
        "done": outcome == "done",
        "failed": outcome == "failed",
        "redirects": 0,
    }


@app.activity_trigger(input_name="payload")
def publish_job_update(payload: dict[str, Any]) -> dict[str, Any]:
    return {"sequence": payload["update"]["sequence"], "status_applied": True, "replied_to": None}
