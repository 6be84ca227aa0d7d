"""The `monitor` job type: POST /api/jobs/monitor takes exactly the body POST /api/monitors takes.

Starting is idempotent per monitor id (a caller-supplied `monitor_id`, or a generated one):
the extension's start_new would silently replace a finished instance with the same id, so the
starter looks first. Cancelling raises the monitor's cancel event, never a terminate, so the
monitor still reports its end (status record, topic, callback).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import azure.durable_functions as df

from adapters.outbound import outbound_allow_list
from domain.monitors import (
    INSTANCE_PREFIX,
    MONITOR_ID,
    InvalidMonitorRequest,
    MonitorState,
    instance_id_for,
    parse_monitor_request,
)
from orchestrators.monitor import CANCEL_EVENT, ORCHESTRATOR
from triggers.job_types import InvalidJobRequest, JobType, StartedJob, StartRequest
from triggers.order_cancel import CancelOutcome

logger = logging.getLogger(__name__)

MONITOR_JOB_ID = re.compile(
    re.escape(INSTANCE_PREFIX) + MONITOR_ID.pattern.removeprefix("^").removesuffix("$")
)
# ContinuedAsNew: between two runs of a monitor, which is still very much running.
CANCELLABLE = frozenset({"Pending", "Running", "ContinuedAsNew"})
# The extension's refusal for a Pending/Running id (see triggers/order_start.py).
_ALREADY_EXISTS = "already exists"


async def start_monitor_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    allowed = outbound_allow_list(purpose="monitors")
    try:
        monitor = parse_monitor_request(request.body, allowed)
    except InvalidMonitorRequest as invalid:
        raise InvalidJobRequest(invalid.problems) from invalid
    monitor_id = monitor.monitor_id or uuid.uuid4().hex
    instance_id = instance_id_for(monitor_id)
    existing = await client.get_status(instance_id)
    if existing:  # falsy when there is no such instance
        status = existing.runtime_status.value if existing.runtime_status else "Pending"
        logger.info("Monitor %s is a duplicate: it is %s", instance_id, status)
        return StartedJob(instance_id, status, duplicate=True)
    state = MonitorState.start(monitor, monitor_id, request.correlation_id)
    try:
        await client.start_new(ORCHESTRATOR, instance_id, state.to_dict())
    except Exception as error:  # the SDK raises a plain Exception with the extension's body
        if _ALREADY_EXISTS not in str(error):
            raise
        return StartedJob(instance_id, "Running", duplicate=True)
    logger.info("Monitor %s started [correlation %s]", instance_id, request.correlation_id)
    return StartedJob(instance_id, "Pending", duplicate=False)


async def cancel_monitor_job(
    client: df.DurableOrchestrationClient, job_id: str, reason: str
) -> CancelOutcome:
    """Raise CancelMonitor on a running monitor; it ends "cancelled" at its next step."""
    status = await client.get_status(job_id)
    if not status or status.name != ORCHESTRATOR:
        return CancelOutcome.NOT_FOUND
    runtime = status.runtime_status.value if status.runtime_status else "Pending"
    if runtime not in CANCELLABLE:
        return CancelOutcome.NOT_CANCELLABLE
    await client.raise_event(job_id, CANCEL_EVENT, {"reason": reason})
    logger.info("Cancellation requested for monitor %s", job_id)
    return CancelOutcome.REQUESTED


MONITOR_JOB = JobType(
    name="monitor",
    orchestrator=ORCHESTRATOR,
    ids=MONITOR_JOB_ID,
    start=start_monitor_job,
    cancel=cancel_monitor_job,
)
