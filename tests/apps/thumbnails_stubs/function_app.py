"""The real thumbnail orchestrator over same-named stub activities, scripted per upload and size.

`THUMBNAIL_STUBS_DIR/script.json` maps an upload's name to, per step ("validate_upload" or
"make_thumbnail:<size>"), the outcomes of its calls in turn: "ok", "transient",
"permanent:<reason>", "rejected:<reason>", "superseded" or "sleep:<seconds>" (calls past the
list succeed). Every call is appended to `calls.jsonl`, every published update to
`published.jsonl`.
"""

import json
import os
import threading
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from domain.failures import PermanentFailure, TransientFailure
from orchestrators.thumbnails import bp as thumbnail_workflow

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(thumbnail_workflow)

_lock = threading.Lock()


def _folder() -> Path:
    return Path(os.environ["THUMBNAIL_STUBS_DIR"])


def _journal(file: str, entry: dict) -> list[dict]:
    """Append `entry`; returns the entries before it."""
    path = _folder() / file
    with _lock:
        earlier = (
            [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        )
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    return earlier


def _outcome(step: str, payload: dict) -> str:
    earlier = _journal("calls.jsonl", {"step": step, "name": payload["name"]})
    number = sum(1 for c in earlier if c["step"] == step and c["name"] == payload["name"])
    script_file = _folder() / "script.json"
    script = json.loads(script_file.read_text()) if script_file.exists() else {}
    outcomes = script.get(payload["name"], {}).get(step, [])
    outcome = outcomes[number] if number < len(outcomes) else "ok"
    if outcome.startswith("sleep:"):
        time.sleep(float(outcome.removeprefix("sleep:")))
    if outcome == "transient":
        raise TransientFailure(f"{step} busy")
    if outcome.startswith("permanent:"):
        raise PermanentFailure(outcome.removeprefix("permanent:"))
    return outcome


@app.activity_trigger(input_name="payload")
def validate_upload(payload: dict) -> dict:
    outcome = _outcome("validate_upload", payload)
    if outcome.startswith("rejected:"):
        return {"outcome": "rejected", "reason": outcome.removeprefix("rejected:")}
    if outcome == "superseded":
        return {"outcome": "superseded", "reason": "the upload was deleted"}
    return {"outcome": "valid", "format": "JPEG", "width": 4000, "height": 3000, "bytes": 9}


@app.activity_trigger(input_name="payload")
def make_thumbnail(payload: dict) -> dict:
    size = payload["size"]
    outcome = _outcome(f"make_thumbnail:{size}", payload)
    blob = f"{size}/{payload['name']}"
    if outcome.startswith("rejected:"):
        return {"outcome": "rejected", "size": size, "blob": blob, "reason": outcome[9:]}
    height = round(size * 3 / 4)
    return {
        "outcome": "written",
        "size": size,
        "blob": blob,
        "width": size,
        "height": height,
        "content_type": "image/jpeg",
        "bytes": size,
        "sha256": "0" * 64,
    }


@app.activity_trigger(input_name="payload")
def publish_job_update(payload: dict) -> dict:
    _journal("published.jsonl", payload)
    return {"sequence": payload["update"]["sequence"], "status_applied": True, "replied_to": None}
