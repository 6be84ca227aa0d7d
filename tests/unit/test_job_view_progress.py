"""GET /api/jobs/{id}'s progress: every finished job shows 100, whatever its custom status holds."""

from __future__ import annotations

from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from triggers.job_answers import JobUrls, job_view
from triggers.job_registry import JOB_TYPES

REPORT_STATUS = {"step": "done", "day": "2026-01-01", "chunks_done": 1, "orders_summed": 3}


def _view(job_type: str, job_id: str, runtime: str, custom: Any, output: Any = None) -> Any:
    status = DurableOrchestrationStatus.from_json(
        {
            "name": "x",
            "instanceId": job_id,
            "runtimeStatus": runtime,
            "customStatus": custom,
            "output": output,
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:01:00Z",
        }
    )
    return job_view(JOB_TYPES[job_type], status, JobUrls("http://localhost:7071/api"))


@pytest.mark.parametrize("runtime", ["Completed", "Failed", "Terminated"])
def test_a_finished_nightly_report_shows_progress_100(runtime: str) -> None:
    view = _view("nightly-report", "nightly-report-2026-01-01", runtime, REPORT_STATUS, "boom")
    assert view["progress"] == 100 and view["step"] == "done"


def test_a_running_job_shows_its_own_percentage_or_none() -> None:
    running = _view("nightly-report", "nightly-report-2026-01-01", "Running", REPORT_STATUS)
    assert running["progress"] is None
    order = _view("order", "order-A-1", "Running", {"step": "paid", "progress": 50})
    assert order["progress"] == 50
