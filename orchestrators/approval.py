"""Human interaction: wait for an approval event, escalate after a first timeout, then reject."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from domain.fulfilment import ApprovalDecision, ApprovalPolicy
from orchestrators.cancellation import CancelWatch

logger = logging.getLogger(__name__)

APPROVAL_EVENT = "ApprovalDecision"
TIMED_OUT = "no approval decision before the deadline"


@dataclass(frozen=True)
class ApprovalOutcome:
    decision: ApprovalDecision
    escalated: bool = False
    timed_out: bool = False
    cancelled: bool = False


CANCELLED = ApprovalOutcome(ApprovalDecision(approved=False, reason="cancelled"), cancelled=True)


def wait_for_decision(
    context: df.DurableOrchestrationContext,
    event: TaskBase,
    deadline: datetime,
    cancel: TaskBase | None,
) -> Generator[Any, Any, ApprovalDecision | None]:
    """The decision `event` brings before `deadline`, or None when the durable timer fires first
    or `cancel` (a wait for the order's cancellation, None once it came) completes first."""
    timer = context.create_timer(deadline)
    winner = yield context.task_any([event, timer] if cancel is None else [event, timer, cancel])
    if winner == timer:
        return None
    # Cancel the timer: an open timer would keep the instance Running after it returns.
    timer.cancel()
    if winner != event:
        return None
    return ApprovalDecision.parse(event.result)


def wait_for_approval(
    context: df.DurableOrchestrationContext,
    policy: ApprovalPolicy,
    ask: Callable[[datetime], Generator[Any, Any, Any]] | None,
    escalate: Callable[[datetime], Generator[Any, Any, Any]],
    cancel: CancelWatch,
) -> Generator[Any, Any, ApprovalOutcome]:
    """Ask the approvers (`ask`, with the final deadline; None asks nobody, as orders before
    workflow version 2 did), wait up to `policy.escalate_after`, run `escalate`, wait until
    `policy.timeout`, then reject. Both deadlines count from the start of the wait and live in
    durable timers, so a restart or a redeploy neither shortens nor extends them. A
    cancellation ends the wait (outcome `cancelled`), whichever wait is open."""
    started = context.current_utc_datetime
    final_deadline = started + policy.timeout
    # Open before asking: a decision that comes while the requests are queued is kept.
    first = context.wait_for_external_event(APPROVAL_EVENT)
    if ask is not None:
        yield from ask(final_deadline)
        if cancel.requested:  # it came while the requests were queued
            return CANCELLED
    decision = yield from wait_for_decision(
        context, first, started + policy.escalate_after, cancel.wait()
    )
    if cancel.requested:
        return CANCELLED
    if decision is not None:
        return ApprovalOutcome(decision)
    if not context.is_replaying:
        logger.warning("No approval decision for %s yet; escalating", context.instance_id)
    yield from escalate(final_deadline)
    if cancel.requested:
        return CANCELLED
    if first.is_completed:
        # The decision came while the escalation ran. The extension hands an event to the
        # latest open wait, and the first one was the only one then.
        return ApprovalOutcome(ApprovalDecision.parse(first.result), escalated=True)
    # A new wait, as the extension expects of a wait in a loop: it now gets the next event.
    second = context.wait_for_external_event(APPROVAL_EVENT)
    decision = yield from wait_for_decision(context, second, final_deadline, cancel.wait())
    if cancel.requested:
        return CANCELLED
    if decision is not None:
        return ApprovalOutcome(decision, escalated=True)
    return ApprovalOutcome(
        ApprovalDecision(approved=False, reason=TIMED_OUT), escalated=True, timed_out=True
    )
