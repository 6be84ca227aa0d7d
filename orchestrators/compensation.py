"""Compensating transaction: remember how to undo each completed step, undo them in reverse."""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import azure.durable_functions as df

from domain.failures import failure_reason
from domain.retry import RetryPolicy
from orchestrators.retry import call_activity_with_backoff

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Undo:
    """One compensating activity call; the activity must be idempotent."""

    activity: str
    payload: dict[str, Any]


@dataclass
class Compensations:
    """The undo steps of the steps completed so far, in the order they completed."""

    steps: list[Undo] = field(default_factory=list)

    def add(self, activity: str, payload: dict[str, Any]) -> None:
        self.steps.append(Undo(activity, payload))

    def run(
        self, context: df.DurableOrchestrationContext, policy: RetryPolicy
    ) -> Generator[Any, Any, list[str]]:
        """Undo in reverse order, each retried on transient failures; returns what could not be
        undone. One failed undo does not stop the others: releasing stock does not depend on a
        refund, and an operator fixes the leftovers from the reasons returned."""
        failed: list[str] = []
        for undo in reversed(self.steps):
            try:
                yield from call_activity_with_backoff(context, undo.activity, undo.payload, policy)
            except Exception as error:
                failed.append(f"{undo.activity}: {failure_reason(error)}")
                if not context.is_replaying:
                    logger.error(
                        "Compensation %s failed for instance %s: %s",
                        undo.activity,
                        context.instance_id,
                        failure_reason(error),
                    )
        self.steps.clear()
        return failed
