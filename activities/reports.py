"""The nightly report's Durable activities: thin wrappers handing each step its adapters.

Activity names: plan_report_chunks, sum_report_page and write_report; the logic and the
input/result shapes are in activities/report_steps.py, where tests call it directly.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import azure.functions as func

from activities import report_steps
from adapters.errors import storage_errors
from adapters.report_store import ReportAdapters, report_adapters
from adapters.telemetry import job_span
from domain.reports import InvalidReportDay, instance_id_for

JOB_TYPE = "nightly-report"

bp = func.Blueprint()


def _adapters(activity: str) -> ReportAdapters:
    # Built on first use; storage being unreachable then is as transient as any other time.
    with storage_errors(activity):
        return report_adapters()


@bp.activity_trigger(input_name="payload")
def plan_report_chunks(payload: dict[str, Any]) -> dict[str, Any]:
    with _span("plan_report_chunks", payload):
        return report_steps.plan_report_chunks(payload, _adapters("plan_report_chunks"))


@bp.activity_trigger(input_name="payload")
def sum_report_page(payload: dict[str, Any]) -> dict[str, Any]:
    with _span("sum_report_page", payload):
        return report_steps.sum_report_page(payload, _adapters("sum_report_page"))


@bp.activity_trigger(input_name="payload")
def write_report(payload: dict[str, Any]) -> dict[str, Any]:
    with _span("write_report", payload):
        return report_steps.write_report(payload, _adapters("write_report"))


def _span(activity: str, payload: Any) -> AbstractContextManager[Any]:
    """The run's instance id comes from the day; its correlation id travels in the input
    (inputs recorded before it did have none, and their spans carry none)."""
    data = payload if isinstance(payload, dict) else {}
    day = data.get("day")
    correlation = data.get("correlation_id")
    try:
        instance_id: str | None = instance_id_for(day)
    except InvalidReportDay:  # the activity itself refuses the input, with its reason
        instance_id = None
    return job_span(
        activity,
        job_type=JOB_TYPE,
        instance_id=instance_id,
        correlation_id=correlation if isinstance(correlation, str) else None,
    )
