"""Approval requests rendered for sending: the token and link are made here, never stored.

An outbox row names the order, the approver and the expiry; the token is the HMAC of those,
so rendering the same row twice gives the same link, and nothing in the Durable history, a
table or a log ever holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.templates import mail_parts
from app_config import ApprovalSettings
from domain.approval_tokens import issue


@dataclass(frozen=True)
class ApprovalMail:
    """A rendered request; `link` and `text` hold the token, so neither is ever logged."""

    to: str = field(repr=False)
    subject: str
    text: str = field(repr=False)
    html: str = field(repr=False)
    link: str = field(repr=False)


def approval_link(base_url: str, token: str) -> str:
    """The page's URL with the token in the fragment, which browsers never send to a server."""
    return f"{base_url}/api/approvals#{token}"


def render_approval_request(
    row: Mapping[str, Any], settings: ApprovalSettings, key: bytes
) -> ApprovalMail:
    """The mail for one outbox row of kind `approval_request`; ValueError when the approver
    is no longer configured or the app has no public base URL to link to."""
    order_id, approver_id = str(row["PartitionKey"]), str(row["approver"])
    approver = settings.approver(approver_id)
    if approver is None:
        raise ValueError(
            f"approver {approver_id!r} is in neither ORDER_APPROVERS nor ORDER_ESCALATION_APPROVERS"
        )
    if settings.public_base_url is None:
        raise ValueError("no public base URL: set PUBLIC_BASE_URL (Azure sets WEBSITE_HOSTNAME)")
    expires_at: datetime = row["expires_at"]
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    link = approval_link(settings.public_base_url, issue(order_id, approver.id, expires_at, key))
    stage = str(row["stage"])
    values = {
        "order_id": order_id,
        "stage": stage,
        "link": link,
        "expires_at": expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        "approver": approver.id,
    }
    prefix = "Escalated: " if stage == "escalation" else ""
    text, html = mail_parts("approval_request", values)
    subject = f"{prefix}Order {order_id} needs your approval"
    return ApprovalMail(to=approver.email, subject=subject, text=text, html=html, link=link)
