"""Starts an orchestration at most once per instance id, whoever asks and however often."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from domain.payload import Model

logger = logging.getLogger(__name__)

# The extension's refusal for a Pending/Running id: "An Orchestration instance with the status
# Running already exists." (AzureStorageOrchestrationService)
_ALREADY_EXISTS = "already exists"
# The end states a run may be started afresh from, when its starter allows it.
_FAILED = frozenset({"Failed", "Terminated", "Canceled"})


@dataclass(frozen=True)
class Started:
    """What a start did: `started` is False when the instance (or its output) already existed."""

    instance_id: str
    started: bool
    runtime_status: str


def runtime_status_of(status: DurableOrchestrationStatus) -> str:
    """An instance's runtime status as text; the SDK leaves it unset only before the first run."""
    return status.runtime_status.value if status.runtime_status else "Pending"


def step_of(status: DurableOrchestrationStatus) -> str | None:
    """The step in a job's custom status (domain.fulfilment.custom_status and its likes)."""
    custom = status.custom_status
    step = custom.get("step") if isinstance(custom, dict) else None
    return step if isinstance(step, str) else None


async def start_once(
    client: df.DurableOrchestrationClient,
    orchestrator: str,
    instance_id: str,
    run: Model | Callable[[], Awaitable[Model]],
    *,
    label: str,
    correlation_id: str | None = None,
    rerun_failed: bool = False,
    already_done: bool = False,
) -> Started:
    """Start `orchestrator` as `instance_id` (from a business key) unless that instance exists.

    The extension's start_new silently REPLACES a finished instance with the same id, hence the
    look first; starters racing past it meet the extension's refusal for a running id, which is
    a duplicate too. `run` is the input, or builds it only for a run that starts (an order
    stores personal data first). `rerun_failed` starts a failed, terminated or cancelled
    instance afresh (a day's report); `already_done` says the work's output exists, so nothing
    starts when its history is gone. `label` names what starts in log lines: ids only.
    """
    existing = await client.get_status(instance_id)
    if existing:  # falsy when there is no such instance
        status = runtime_status_of(existing)
        if not (rerun_failed and status in _FAILED):
            return _not_started(label, instance_id, status)
        logger.info("%s starts %s again: it was %s", label, instance_id, status)
    elif already_done:
        return _not_started(label, instance_id, "Completed")
    run_input = (await run() if callable(run) else run).dump()
    try:
        await client.start_new(orchestrator, instance_id, run_input)
    except Exception as error:  # the SDK raises a plain Exception with the extension's body
        if _ALREADY_EXISTS not in str(error):
            raise
        return _not_started(label, instance_id, "Running")  # a racing start got there first
    logger.info("%s started as %s [correlation %s]", label, instance_id, correlation_id or "-")
    return Started(instance_id, started=True, runtime_status="Pending")


def _not_started(label: str, instance_id: str, status: str) -> Started:
    logger.info("%s already has job %s (%s): not started again", label, instance_id, status)
    return Started(instance_id, started=False, runtime_status=status)
