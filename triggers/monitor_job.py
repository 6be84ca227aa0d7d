"""The `monitor` job: POST /api/jobs/monitor and its alias POST /api/monitors."""

from __future__ import annotations

import uuid

import azure.durable_functions as df

from adapters.factory import outbound_allow_list
from domain.monitor_conditions import MAX_TERMS
from domain.monitors import (
    DEFAULT_INTERVAL_SECONDS,
    INSTANCE_PREFIX,
    MONITOR_ID,
    MonitorRequest,
    MonitorResult,
    MonitorState,
    instance_id_for,
)
from domain.outbound import check_urls
from orchestrators.monitor import CANCEL_EVENT, ORCHESTRATOR
from triggers.job_types import JobType, StartRequest, job_ids
from triggers.start_once import Started, start_once


async def start_monitor_job(
    client: df.DurableOrchestrationClient, request: StartRequest
) -> Started:
    monitor: MonitorRequest = request.body
    # The URLs' rules need the allow-list setting; InvalidPayload is the API's 400.
    allowed = outbound_allow_list(purpose="monitors")
    check_urls(allowed, status_url=monitor.status_url, callback_url=monitor.callback_url)
    monitor_id = monitor.monitor_id or uuid.uuid4().hex
    state = MonitorState.start(monitor, monitor_id, request.correlation_id)
    return await start_once(
        client,
        ORCHESTRATOR,
        instance_id_for(monitor_id),
        state,
        label=f"Monitor {monitor_id}",
        correlation_id=request.correlation_id,
    )


MONITOR_JOB = JobType(
    name="monitor",
    ids=job_ids(INSTANCE_PREFIX, MONITOR_ID),
    orchestrator=ORCHESTRATOR,
    request=MonitorRequest,
    rules=(
        "`max_interval_seconds` and `expires_in_seconds` are at least `interval_seconds` "
        f"({DEFAULT_INTERVAL_SECONDS} when it is not given). `condition` and `failure_condition` "
        f"hold at most {MAX_TERMS} tests each, counted over all their levels. `status_url` and "
        "`callback_url` pass the outbound guard with the allow-list settings when the monitor "
        "starts: https (http only for allow-listed hosts), and an IP address literal only when it "
        "is public (never a private, loopback, link-local or metadata address) or allow-listed."
    ),
    result=MonitorResult,
    start=start_monitor_job,
    cancel_event=CANCEL_EVENT,
)
