"""Every recorded suite, one per orchestrator: add a module with a Suite and list it here."""

from __future__ import annotations

from scripts.record_histories import (
    monitor_cases,
    nightly_report_cases,
    order_cases,
    retention_cases,
    supervisor_cases,
    thumbnail_cases,
)
from scripts.record_histories.recording import Suite

SUITES: tuple[Suite, ...] = (
    order_cases.SUITE,
    nightly_report_cases.SUITE,
    retention_cases.SUITE,
    thumbnail_cases.SUITE,
    supervisor_cases.SUITE,
    monitor_cases.SUITE,
)
