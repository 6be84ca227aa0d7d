"""Every path of the thumbnail orchestrator on devhost, with scripted stub activities and virtual
time: exact fan-out results, per-size retries with backoff, permanent failures, rejections.

The app (tests/apps/thumbnails_stubs) runs the real orchestrator over same-named stub
activities; test_thumbnails_e2e.py runs the real ones on real images.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess
from domain.images import ImageLimits, thumbnail_instance_id
from domain.thumbnails import ThumbnailJob
from orchestrators.thumbnails import ORCHESTRATOR, STEP_RETRY

APP = Path(__file__).resolve().parent.parent / "apps" / "thumbnails_stubs"
SIZES = (128, 256, 512)


class Stubs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def script(self, name: str, plan: dict[str, list[str]]) -> None:
        path = self.folder / "script.json"
        script = json.loads(path.read_text()) if path.exists() else {}
        script[name] = plan
        path.write_text(json.dumps(script))

    def _rows(self, file: str) -> list[dict[str, Any]]:
        path = self.folder / file
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def calls(self, name: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._rows("calls.jsonl"):
            if row["name"] == name:
                counts[row["step"]] = counts.get(row["step"], 0) + 1
        return counts

    def published(self, job_id: str) -> list[dict[str, Any]]:
        rows = self._rows("published.jsonl")
        return [r["update"] for r in rows if r["update"]["job_id"] == job_id]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[DevHostProcess]:
    state = tmp_path_factory.mktemp("thumbnail-paths")
    env = {"THUMBNAIL_STUBS_DIR": str(state), "AzureWebJobsStorage": azurite.connection_string}
    with DevHostProcess(APP, state_dir=state, virtual_time=True, env=env) as running:
        running.stubs = Stubs(state)  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def stubs(host: DevHostProcess) -> Stubs:
    return host.stubs  # type: ignore[attr-defined]


def run(host: DevHostProcess, stubs: Stubs, plan: dict[str, list[str]]) -> tuple[str, dict]:
    """Run one job for a new upload with this script; returns the upload name and status."""
    name = f"paths/{uuid.uuid4().hex[:10]}.jpg"
    stubs.script(name, plan)
    job = ThumbnailJob(
        name=name, etag='"0x8D1"', sizes=SIZES, limits=ImageLimits(), correlation_id="corr-7"
    )
    instance_id = thumbnail_instance_id(name, '"0x8D1"')
    status = host.run_orchestration(ORCHESTRATOR, job.dump(), instance_id)
    assert status["runtimeStatus"] == "Completed", status
    return name, status


def timers(status: dict[str, Any]) -> int:
    return sum(1 for e in status["historyEvents"] if e["EventType"] == "TimerFired")


def test_fan_out_results_in_size_order_and_numbered_updates(
    host: DevHostProcess, stubs: Stubs
) -> None:
    # The largest size finishes first: results still come back in the configured order.
    name, status = run(host, stubs, {"make_thumbnail:128": ["sleep:0.3"]})
    result = status["output"]
    assert result["status"] == "completed" and result["reason"] is None
    assert [(t["size"], t["width"], t["height"], t["blob"]) for t in result["thumbnails"]] == [
        (128, 128, 96, f"128/{name}"),
        (256, 256, 192, f"256/{name}"),
        (512, 512, 384, f"512/{name}"),
    ]
    assert stubs.calls(name) == {
        "validate_upload": 1,
        "make_thumbnail:128": 1,
        "make_thumbnail:256": 1,
        "make_thumbnail:512": 1,
    }
    updates = stubs.published(status["instanceId"])
    assert [(u["sequence"], u["kind"], u["step"], u["progress"]) for u in updates] == [
        (1, "milestone", "validated", 20),
        (2, "completed", "completed", 100),
    ]
    assert updates[1]["job_type"] == "thumbnail" and updates[1]["result"] == result
    assert updates[1]["correlation_id"] == "corr-7"


def test_a_size_that_fails_transiently_is_retried_alone_with_backoff(
    host: DevHostProcess, stubs: Stubs
) -> None:
    name, status = run(
        host,
        stubs,
        {"validate_upload": ["transient"], "make_thumbnail:256": ["transient", "transient"]},
    )
    assert status["output"]["status"] == "completed"
    assert stubs.calls(name) == {
        "validate_upload": 2,
        "make_thumbnail:128": 1,
        "make_thumbnail:256": 3,
        "make_thumbnail:512": 1,
    }
    assert timers(status) == 3  # one wait before each retry


def test_a_permanent_failure_ends_the_job_failed_without_retries(
    host: DevHostProcess, stubs: Stubs
) -> None:
    name, status = run(host, stubs, {"make_thumbnail:512": ["permanent:disk says no"]})
    assert status["output"]["status"] == "failed"
    assert status["output"]["reason"] == "disk says no"
    assert status["customStatus"]["step"] == "failed"
    assert stubs.calls(name)["make_thumbnail:512"] == 1 and timers(status) == 0
    final = stubs.published(status["instanceId"])[-1]
    assert (final["kind"], final["status"]) == ("ended", "failed")


def test_transient_failures_past_the_attempts_end_the_job_failed(
    host: DevHostProcess, stubs: Stubs
) -> None:
    attempts = STEP_RETRY.max_attempts
    name, status = run(host, stubs, {"make_thumbnail:128": ["transient"] * attempts})
    assert status["output"]["status"] == "failed"
    assert "make_thumbnail:128 busy" in status["output"]["reason"]
    assert stubs.calls(name)["make_thumbnail:128"] == attempts
    assert stubs.calls(name)["make_thumbnail:256"] == 1


def test_rejections_and_superseded_uploads_end_with_their_reason(
    host: DevHostProcess, stubs: Stubs
) -> None:
    name, status = run(host, stubs, {"validate_upload": ["rejected:not an image"]})
    assert (status["output"]["status"], status["output"]["reason"]) == ("rejected", "not an image")
    assert stubs.calls(name) == {"validate_upload": 1}
    assert [u["kind"] for u in stubs.published(status["instanceId"])] == ["ended"]

    name, status = run(host, stubs, {"validate_upload": ["superseded"]})
    assert status["output"]["status"] == "superseded"
    assert status["customStatus"]["step"] == "superseded"

    name, status = run(host, stubs, {"make_thumbnail:256": ["rejected:corrupt JPEG: broken"]})
    assert status["output"]["status"] == "rejected"
    assert status["output"]["reason"] == "size 256: corrupt JPEG: broken"
