"""The nightly report's Durable activities: thin wrappers handing each step its adapters.

Activity names: plan_report_chunks, sum_report_page and write_report; the logic and the
input/result shapes are in activities/report_steps.py, where tests call it directly.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from activities import report_steps
from adapters.errors import storage_errors
from adapters.report_store import ReportAdapters, report_adapters

bp = func.Blueprint()


def _adapters(activity: str) -> ReportAdapters:
    # Built on first use; storage being unreachable then is as transient as any other time.
    with storage_errors(activity):
        return report_adapters()


@bp.activity_trigger(input_name="payload")
def plan_report_chunks(payload: dict[str, Any]) -> dict[str, Any]:
    return report_steps.plan_report_chunks(payload, _adapters("plan_report_chunks"))


@bp.activity_trigger(input_name="payload")
def sum_report_page(payload: dict[str, Any]) -> dict[str, Any]:
    return report_steps.sum_report_page(payload, _adapters("sum_report_page"))


@bp.activity_trigger(input_name="payload")
def write_report(payload: dict[str, Any]) -> dict[str, Any]:
    return report_steps.write_report(payload, _adapters("write_report"))
