"""Cancellation as an event: fresh waits for a job's cancel event, raced with steps, read after."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

CANCEL_EVENT = "CancelOrder"


class CancelWatch:
    """Every wait is yielded at once inside a task_any. A task must not be yielded in two
    compound tasks (the SDK leaves an already scheduled child out of the second one, so the
    extension would wait on it forever), hence a new wait per race. The event goes to the latest
    open wait, in the SDK and in the extension alike, so some wait always takes it."""

    def __init__(self, context: df.DurableOrchestrationContext, event: str = CANCEL_EVENT) -> None:
        self.context = context
        self.event = event
        self.waits: list[TaskBase] = []

    def wait(self) -> TaskBase | None:
        """A new wait to race with, or None once a cancellation arrived (no race needed)."""
        if self.requested:
            return None
        task = self.context.wait_for_external_event(self.event)
        self.waits.append(task)
        return task

    @property
    def requested(self) -> bool:
        return any(task.is_completed for task in self.waits)

    @property
    def data(self) -> Any:
        return next((task.result for task in self.waits if task.is_completed), None)
