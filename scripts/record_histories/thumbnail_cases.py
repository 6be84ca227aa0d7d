"""The thumbnail job's representative paths on the thumbnails_stubs app (the real orchestrator
over scripted stub activities; see tests/apps/thumbnails_stubs/function_app.py).

Each case has its own upload name and a fixed ETag, so its instance id (the one the blob
trigger derives) is the same on every re-recording. The sizes finish in a fixed order (the
smaller ones are scripted to take a little longer), so the fan-in's completions are recorded in
the same order every time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from devhost.azurite import Azurite
from domain.images import ImageLimits, thumbnail_instance_id
from domain.thumbnails import ThumbnailJob
from orchestrators.thumbnails import ORCHESTRATOR, STEP_RETRY
from scripts.record_histories.recording import Case, Session, Suite

APP = Path(__file__).resolve().parents[2] / "tests" / "apps" / "thumbnails_stubs"
SIZES = (128, 256, 512)
ETAG = '"0x8D1"'
# 512 first, then 256, then 128: a stable completion order for the fan-in.
ORDERED = {"make_thumbnail:128": ["sleep:0.4"], "make_thumbnail:256": ["sleep:0.2"]}


def _env(folder: Path, azurite: Azurite | None) -> dict[str, str]:
    if azurite is None:
        raise ValueError("the thumbnails_stubs app needs Azurite")
    return {"THUMBNAIL_STUBS_DIR": str(folder), "AzureWebJobsStorage": azurite.connection_string}


def _job(case: str, plan: dict[str, list[str]], expected: str) -> Callable[[Session], str]:
    def drive(session: Session) -> str:
        name = f"histories/{case}.jpg"
        script_file = session.folder / "script.json"
        script = json.loads(script_file.read_text()) if script_file.exists() else {}
        script[name] = plan
        script_file.write_text(json.dumps(script))
        session.host.set_time(auto_advance=True)
        job = ThumbnailJob(
            name=name, etag=ETAG, sizes=SIZES, limits=ImageLimits(), correlation_id="corr-1"
        )
        instance_id = thumbnail_instance_id(name, ETAG)
        status = session.host.run_orchestration(ORCHESTRATOR, job.dump(), instance_id)
        outcome = (status.get("output") or {}).get("status")
        if status["runtimeStatus"] != "Completed" or outcome != expected:
            raise RuntimeError(f"{instance_id}: expected a {expected} job, got {status}")
        return instance_id

    return drive


CASES = (
    Case(
        "completed",
        "validated, three sizes made in parallel, completed",
        _job("completed", ORDERED, "completed"),
    ),
    Case(
        "transient_retries",
        "validation retried once, size 256 retried twice with backoff, completed",
        _job(
            "transient_retries",
            {
                **ORDERED,
                "validate_upload": ["transient"],
                "make_thumbnail:256": ["transient", "transient"],
            },
            "completed",
        ),
    ),
    Case(
        "size_failed",
        "size 512 fails permanently: the job ends failed without retries",
        _job(
            "size_failed", {**ORDERED, "make_thumbnail:512": ["permanent:disk says no"]}, "failed"
        ),
    ),
    Case(
        "size_out_of_retries",
        "size 128 fails transiently on every attempt: the job ends failed",
        _job(
            "size_out_of_retries",
            {**ORDERED, "make_thumbnail:128": ["transient"] * STEP_RETRY.max_attempts},
            "failed",
        ),
    ),
    Case(
        "rejected",
        "validation rejects the upload: no sizes made",
        _job("rejected", {"validate_upload": ["rejected:not an image"]}, "rejected"),
    ),
    Case(
        "superseded",
        "the upload was deleted or replaced before validation: superseded",
        _job("superseded", {"validate_upload": ["superseded"]}, "superseded"),
    ),
    Case(
        "size_rejected",
        "size 256 rejects the image (corrupt): the job ends rejected",
        _job(
            "size_rejected",
            {**ORDERED, "make_thumbnail:256": ["rejected:corrupt JPEG: broken"]},
            "rejected",
        ),
    ),
)

SUITE = Suite(ORCHESTRATOR, APP, CASES, env=_env, azurite=True)
