"""The `poll_monitor_status` activity: one guarded GET of a monitor's status URL, tested.

Input (domain.monitors.PollRequest): {"url", "condition", "failure_condition", "monitor_id",
"poll", "correlation_id"}. Output (domain.monitors.PollOutcome): {"http_status", "done",
"failed", "redirects"}: whether the condition and the failure condition hold on the JSON
answer. The answer itself never leaves the activity, so no third party's document lands in the
orchestration's history. Failures are raised: TransientFailure for what the next poll may get
past (timeouts, connection errors, 408, 429, 5xx), PermanentFailure for what it cannot (a
refused URL, address or redirect hop, other 4xx, an answer that is not JSON or is larger than
the limit).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df

from adapters.outbound import OutboundClient, build_outbound_client
from adapters.telemetry import job_span
from domain.failures import FailureKind, JobFailure, PermanentFailure, TransientFailure
from domain.monitors import JOB_TYPE, PollOutcome, PollRequest, instance_id_for
from domain.outbound import classify_status
from domain.payload import InvalidPayload, read

logger = logging.getLogger(__name__)

ACTIVITY = "poll_monitor_status"
# Status documents are small; anything bigger is refused rather than parsed.
MAX_STATUS_BYTES = 64 * 1024
# Polls may follow a few redirects (a status URL that moved); each hop is vetted and pinned.
MAX_REDIRECTS = 3
USER_AGENT = "durable-background-jobs-monitor/1"

bp = df.Blueprint()


def poll(payload: Any, client: OutboundClient) -> dict[str, Any]:
    """One poll; the logic of `poll_monitor_status`, called directly by tests."""
    try:
        request = read(PollRequest, payload)
    except InvalidPayload as error:
        raise PermanentFailure(f"invalid {ACTIVITY} input: {error}") from None
    correlation = request.correlation_id or "-"
    ids = f"monitor {request.monitor_id} poll {request.poll} [correlation {correlation}]"
    try:
        # Ids only: the status URL may carry tokens, so it stays out of the span.
        with job_span(
            ACTIVITY,
            job_type=JOB_TYPE,
            instance_id=instance_id_for(request.monitor_id),
            correlation_id=request.correlation_id,
            **{"monitor.poll": request.poll},
        ):
            result = _poll(request, client)
    except JobFailure as error:
        logger.warning("%s failed for %s: %s", ACTIVITY, ids, error)
        raise
    logger.info(
        "%s for %s: %d, done=%s failed=%s",
        ACTIVITY,
        ids,
        result.http_status,
        result.done,
        result.failed,
    )
    return result.dump()


def _poll(request: PollRequest, client: OutboundClient) -> PollOutcome:
    response = client.request(
        "GET",
        request.url,
        headers={"Accept": "application/json"},
        what="status URL",
        max_redirects=MAX_REDIRECTS,
        strict_body=True,
    )
    status, where = response.status, response.where
    kind = classify_status(status)
    if kind is FailureKind.TRANSIENT:
        raise TransientFailure(f"{where} answered {status}")
    if kind is FailureKind.PERMANENT:
        raise PermanentFailure(f"{where} answered {status}")
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python parses
        raise PermanentFailure(f"{where} answered {status} without a JSON document") from None
    failure = request.failure_condition
    return PollOutcome(
        http_status=status,
        done=request.condition.holds(document),
        failed=failure is not None and failure.holds(document),
        redirects=response.redirects,
    )


@bp.activity_trigger(input_name="payload")
def poll_monitor_status(payload: dict[str, Any]) -> dict[str, Any]:
    # Built per call: a changed allow-list applies at once, and a bad one fails only the poll.
    client = build_outbound_client(
        purpose="monitor polls", max_response_bytes=MAX_STATUS_BYTES, user_agent=USER_AGENT
    )
    return poll(payload, client)
