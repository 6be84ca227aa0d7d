"""The `deliver_webhook` activity: one signed delivery of a job's result to the caller's URL.

Input (domain.webhooks.WebhookRequest): {"url", "event": {...}, "delivery_id",
"correlation_id"}. Output (domain.webhooks.WebhookResult): {"delivered": true, "status": <2xx>,
"attempt_at": <ISO 8601 UTC>}. Failures are raised, never returned: PermanentFailure for a bad
input or URL, a refused address, a redirect, a 4xx or missing settings; TransientFailure for
what a later attempt may get through (timeouts, connection errors, 408, 429, 5xx), so the
orchestrator's call_activity_with_backoff retries only those. Every retry sends the same
delivery id and the same body bytes, so receivers drop duplicates by the id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from adapters.telemetry import job_span
from adapters.webhooks import WebhookSender, build_webhook_sender
from domain.failures import JobFailure, PermanentFailure
from domain.payload import InvalidPayload, read
from domain.webhooks import WebhookRequest, WebhookResult

logger = logging.getLogger(__name__)

bp = df.Blueprint()


def _now() -> datetime:
    return datetime.now(UTC)


def deliver(
    payload: Any, sender: WebhookSender, *, clock: Callable[[], datetime] = _now
) -> dict[str, Any]:
    """Send the event once; the logic of `deliver_webhook`, called directly by tests."""
    try:
        request = read(WebhookRequest, payload)
    except InvalidPayload as error:
        raise PermanentFailure(f"invalid deliver_webhook input: {error}") from None
    ids = f"delivery {request.delivery_id} [correlation {request.correlation_id or '-'}]"
    attempt_at, started = clock(), time.perf_counter()
    # The event is a job update: its job id is the instance id. The URL and body stay out.
    job_id, job_type = request.event.get("job_id"), request.event.get("job_type")
    try:
        with job_span(
            "deliver_webhook",
            job_type=job_type if isinstance(job_type, str) else "",
            instance_id=job_id if isinstance(job_id, str) else None,
            correlation_id=request.correlation_id,
            **{"webhook.delivery_id": request.delivery_id},
        ):
            status = sender.send(request.url, request.body(), request.delivery_id)
    except JobFailure as error:
        logger.warning("deliver_webhook failed for %s: %s", ids, error)
        raise
    elapsed_ms = (time.perf_counter() - started) * 1e3
    logger.info("deliver_webhook done for %s: %d in %.0f ms", ids, status, elapsed_ms)
    return WebhookResult(delivered=True, status=status, attempt_at=attempt_at).dump()


@bp.activity_trigger(input_name="payload")
def deliver_webhook(payload: dict[str, Any]) -> dict[str, Any]:
    # The sender is built per call: settings (and a rotated Key Vault secret) apply at once,
    # and a missing key fails only the webhook, with a reason, never the app's start.
    return deliver(payload, build_webhook_sender())
