"""The monitor pattern: poll a status URL on durable timers with backoff until done or expired."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.monitor_polls import POLL_MONITOR_STATUS
from domain.failures import FailureKind, failure_kind, failure_reason
from domain.fulfilment import cancel_reason
from domain.monitors import (
    JOB_TYPE,
    MonitorState,
    MonitorStep,
    PollOutcome,
    PollRequest,
    custom_status,
    monitor_result,
)
from domain.payload import read
from orchestrators.cancellation import CancelWatch
from orchestrators.job_results import JobReporter

logger = logging.getLogger(__name__)

ORCHESTRATOR = "monitor"
CANCEL_EVENT = "CancelMonitor"

bp = df.Blueprint()


def _finish(
    context: df.DurableOrchestrationContext,
    state: MonitorState,
    ending: MonitorStep,
    reason: str | None,
) -> Generator[Any, Any, dict[str, Any]]:
    context.set_custom_status(custom_status(ending, 100))
    result = monitor_result(state, ending, context.current_utc_datetime, reason).dump()
    # Numbered on from the carried state; the first run has logged the start already.
    reporter = JobReporter(
        context,
        JOB_TYPE,
        state.correlation_id,
        state.routing,
        sequence=state.sequence,
        started_at=state.started_at,
        log_start=False,
    )
    succeeded = ending is MonitorStep.COMPLETED
    yield from reporter.finish(str(ending), str(ending), result, succeeded=succeeded)
    return result


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def monitor(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input: MonitorState.dump(); output: domain.monitors.MonitorResult.dump(). Each run polls
    once, then ends or waits on a durable timer and continues as new, so the history never holds
    more than one poll and one wait; a transient poll failure is retried by the next poll."""
    now = context.current_utc_datetime
    state = read(MonitorState, context.get_input()).begun(now)
    cancel = CancelWatch(context, CANCEL_EVENT)
    if state.polls == 0 and state.sequence == 0:
        reporter = JobReporter(
            context, JOB_TYPE, state.correlation_id, state.routing, started_at=state.started_at
        )
        context.set_custom_status(custom_status(MonitorStep.POLLING, 0))
        yield from reporter.milestone(str(MonitorStep.POLLING), 0, str(MonitorStep.POLLING))
        state = state.published(reporter.sequence)
    context.set_custom_status(custom_status(MonitorStep.POLLING, state.progress(now)))

    request = PollRequest(
        url=state.status_url,
        condition=state.condition,
        failure_condition=state.failure_condition,
        monitor_id=state.monitor_id,
        poll=state.polls + 1,
        correlation_id=state.correlation_id,
    )
    task = context.call_activity(POLL_MONITOR_STATUS, request.dump())
    yield context.task_any([task, cancel.wait()])
    if cancel.requested:
        # A GET has no side effect to wait for: the poll in flight is simply not read.
        reason = cancel_reason(cancel.data)
        return (yield from _finish(context, state, MonitorStep.CANCELLED, reason))
    try:
        answer = yield task
    except Exception as error:  # the SDK hands every activity failure over as Exception
        reason = failure_reason(error)
        state = state.after_poll(None, reason)
        if failure_kind(error) is FailureKind.PERMANENT:
            return (yield from _finish(context, state, MonitorStep.FAILED, reason))
        if not context.is_replaying:
            logger.warning(
                "Monitor %s poll %d failed (%s); polling again later",
                state.monitor_id,
                state.polls,
                reason,
            )
    else:
        outcome = read(PollOutcome, answer)
        state = state.after_poll(outcome.http_status, None)
        if outcome.failed:
            reason = "the failure condition holds"
            return (yield from _finish(context, state, MonitorStep.FAILED, reason))
        if outcome.done:
            return (yield from _finish(context, state, MonitorStep.COMPLETED, None))

    now = context.current_utc_datetime
    if state.expired(now):
        reason = f"the condition did not hold within {state.expires_in_seconds:g} s"
        if state.last_error:
            reason += f"; last poll: {state.last_error}"
        return (yield from _finish(context, state, MonitorStep.EXPIRED, reason))

    context.set_custom_status(custom_status(MonitorStep.WAITING, state.progress(now)))
    timer = context.create_timer(now + state.next_wait(now))
    yield context.task_any([timer, cancel.wait()])
    if cancel.requested:
        timer.cancel()
        reason = cancel_reason(cancel.data)
        return (yield from _finish(context, state, MonitorStep.CANCELLED, reason))
    # A fresh run with the state in its input: the history starts again from nothing.
    context.continue_as_new(state.backed_off().dump())
    return None
