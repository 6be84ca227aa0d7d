"""Every recorded suite, one per orchestrator: add a module with a Suite and list it here."""

from __future__ import annotations

from scripts.record_histories import order_cases
from scripts.record_histories.recording import Suite

SUITES: tuple[Suite, ...] = (order_cases.SUITE,)
