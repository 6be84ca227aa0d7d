"""The `poll_monitor_status` activity: one guarded GET of a monitor's status URL, tested."""

from __future__ import annotations

import json

from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import outbound_allow_list
from adapters.outbound import OutboundClient
from domain.failures import FailureKind, PermanentFailure, TransientFailure
from domain.monitors import JOB_TYPE, PollOutcome, PollRequest, instance_id_for
from domain.outbound import classify_status

# Status documents are small; anything bigger is refused rather than parsed.
MAX_STATUS_BYTES = 64 * 1024
# Polls may follow a few redirects (a status URL that moved); each hop is vetted and pinned.
MAX_REDIRECTS = 3
USER_AGENT = "durable-background-jobs-monitor/1"


def _client() -> OutboundClient:
    # Built per call: a changed allow-list applies at once, and a bad one fails only the poll.
    allowed = outbound_allow_list(purpose="monitor polls")
    return OutboundClient(allowed, max_response_bytes=MAX_STATUS_BYTES, user_agent=USER_AGENT)


def _ids(request: PollRequest) -> JobIds:
    # Ids only: the status URL may carry tokens, so it stays out of the span and the logs.
    monitor_id, poll = request.monitor_id, request.poll
    label, attributes = f"monitor {monitor_id} poll {poll}", {"monitor.poll": poll}
    return JobIds(JOB_TYPE, instance_id_for(monitor_id), request.correlation_id, label, attributes)


bp = ActivityBlueprint(adapters=_client, ids=_ids)

POLL_MONITOR_STATUS = "poll_monitor_status"


@bp.activity(POLL_MONITOR_STATUS, PollRequest)
def poll_monitor_status(request: PollRequest, client: OutboundClient) -> PollOutcome:
    """One poll: GET the status URL and test the conditions on its JSON answer, which never
    leaves the activity (no third party's document in the history). Transient: what the next
    poll may get past (timeouts, connection errors, 408, 429, 5xx); anything else is permanent."""
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
