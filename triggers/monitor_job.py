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

import azure.durable_functions as df

from adapters.outbound import outbound_allow_list
from domain.monitor_conditions import MAX_TERMS
from domain.monitors import (
    DEFAULT_INTERVAL_SECONDS,
    INSTANCE_PREFIX,
    MONITOR_ID,
    MonitorRequest,
    MonitorResult,
    MonitorState,
    check_urls,
    instance_id_for,
)
from orchestrators.monitor import CANCEL_EVENT, ORCHESTRATOR
from triggers.job_types import JobType, StartedJob, StartRequest
from triggers.order_cancel import CancelOutcome

logger = logging.getLogger(__name__)

MONITOR_JOB_ID = re.compile(
    INSTANCE_PREFIX + MONITOR_ID.pattern.removeprefix("^").removesuffix("$")
)
# ContinuedAsNew: between two runs of a monitor, which is still very much running.
CANCELLABLE = frozenset({"Pending", "Running", "ContinuedAsNew"})
# The extension's refusal for a Pending/Running id (see triggers/order_start.py).
_ALREADY_EXISTS = "already exists"
# What the request's JSON schema cannot state; each is a 400 problem naming its field.
RULES = (
    "`max_interval_seconds` and `expires_in_seconds` are at least `interval_seconds` "
    f"({DEFAULT_INTERVAL_SECONDS} when it is not given). `condition` and `failure_condition` "
    f"hold at most {MAX_TERMS} tests each, counted over all their levels. `status_url` and "
    "`callback_url` pass the outbound guard with the allow-list settings when the monitor "
    "starts: https (http only for allow-listed hosts), and an IP address literal only when it "
    "is public (never a private, loopback, link-local or metadata address) or allow-listed."
)


async def start_monitor_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> StartedJob:
    monitor: MonitorRequest = request.body
    # The URLs' rules need the allow-list setting; InvalidPayload is the API's 400.
    check_urls(monitor, outbound_allow_list(purpose="monitors"))
    monitor_id = monitor.monitor_id or uuid.uuid4().hex
    instance_id = instance_id_for(monitor_id)
    existing = await client.get_status(instance_id)
    if existing:  # falsy when there is no such instance
        status = existing.runtime_status.value if existing.runtime_status else "Pending"
        logger.info("Monitor %s is a duplicate: it is %s", instance_id, status)
        return StartedJob(instance_id, status, duplicate=True)
    state = MonitorState.start(monitor, monitor_id, request.correlation_id)
    try:
        await client.start_new(ORCHESTRATOR, instance_id, state.dump())
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
    request=MonitorRequest,
    start=start_monitor_job,
    cancel=cancel_monitor_job,
    result=MonitorResult,
    rules=RULES,
)
