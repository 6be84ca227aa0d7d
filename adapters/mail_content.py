"""What each kind of outbox row says, rendered only when it is sent: approval requests with
their links, the customer's confirmation with the address read from the claim check then."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.approval_mail import render_approval_request
from adapters.mail import OutgoingMail, PermanentMailError
from adapters.notifications import APPROVAL_REQUEST
from adapters.templates import mail_parts
from app_config import ApprovalSettings
from domain.notifications import mail_id


@dataclass(frozen=True)
class MailContext:
    """What rendering needs: the sender address, approvers, the signing key (read when a
    request is rendered) and the claim check (the customer's data, read when confirming)."""

    sender: str
    approvals: ApprovalSettings
    signing_key: Callable[[], bytes]
    customer: Callable[[str], Mapping[str, Any]]


def render(row: Mapping[str, Any], context: MailContext) -> OutgoingMail:
    """The mail for an outbox row; PermanentMailError when it can never be rendered (an unknown
    kind or approver, no address). Storage errors while reading the claim check propagate."""
    order_id, row_key = str(row["PartitionKey"]), str(row["RowKey"])
    kind = str(row.get("kind") or row_key)  # rows queued before `kind` existed: the key
    values = {"order_id": order_id}
    if kind == APPROVAL_REQUEST:
        try:
            request = render_approval_request(row, context.approvals, context.signing_key())
        except ValueError as error:
            raise PermanentMailError(f"approval request not renderable: {error}") from None
        to, subject, text, html = (request.to,), request.subject, request.text, request.html
    elif kind == "escalation":  # workflow version 1: a notice to the escalation approvers
        to = tuple(a.email for a in context.approvals.escalation_approvers)
        subject = f"Escalated: order {order_id} is waiting for approval"
        text, html = mail_parts("escalation_notice", values)
    elif kind == "confirmation":
        customer = context.customer(str(row["customer_ref"]))
        email = customer.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise PermanentMailError("the customer's record has no email address")
        to, subject = (email,), f"Your order {order_id} is confirmed"
        text, html = mail_parts("confirmation", {**values, "name": customer.get("name") or "there"})
    else:
        raise PermanentMailError(f"no mail is written for notifications of kind {kind!r}")
    if not to:
        raise PermanentMailError(f"nobody to send a {kind} notification to")
    return OutgoingMail(
        id=mail_id(order_id, row_key),
        sender=context.sender,
        to=to,
        subject=subject,
        text=text,
        html=html,
    )
