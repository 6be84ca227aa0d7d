"""The `deliver_webhook` activity: one signed delivery of a job's result to the caller's URL."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.envelope import ActivityBlueprint, JobIds
from adapters.factory import build_webhook_sender
from adapters.webhooks import WebhookSender
from domain.webhooks import WebhookRequest, WebhookResult


def _ids(request: WebhookRequest) -> JobIds:
    # The event is a job update: its job id is the instance id. The URL and body stay out.
    job_id, job_type = request.event.get("job_id"), request.event.get("job_type")
    return JobIds(
        job_type if isinstance(job_type, str) else "",
        job_id if isinstance(job_id, str) else None,
        request.correlation_id,
        f"delivery {request.delivery_id}",
        {"webhook.delivery_id": request.delivery_id},
    )


# The sender is built per call: settings (and a rotated Key Vault secret) apply at once, and a
# missing key fails only the webhook, with a reason, never the app's start.
bp = ActivityBlueprint(adapters=build_webhook_sender, ids=_ids)

DELIVER_WEBHOOK = "deliver_webhook"


@bp.activity(DELIVER_WEBHOOK, WebhookRequest)
def deliver_webhook(request: WebhookRequest, sender: WebhookSender) -> WebhookResult:
    """Send the event; the receiver's 2xx status and when. Every retry sends the same delivery
    id and body bytes, so the receiver drops duplicates by the id."""
    attempt_at = datetime.now(UTC)
    status = sender.send(request.url, request.body(), request.delivery_id)
    return WebhookResult(delivered=True, status=status, attempt_at=attempt_at)
