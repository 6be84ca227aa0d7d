"""Notifications delivered end to end: the app on devhost (wall-clock time) and Azurite sends
through a real SMTP server (aiosmtpd on a free port): approval requests with their links, the
escalation, the customer's confirmation; an SMTP outage delays mail and loses none; a queue
message that is not a row's keys is recorded as rejected, not retried into the poison queue."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from adapters.factory import build_order_adapters, build_rejected_messages, notifications_queue
from adapters.notifications import NOTIFICATIONS_QUEUE
from adapters.payments import SIMULATED
from adapters.rejected_messages import RejectedMessage
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, free_port, wait_until
from domain.payload import TABLE_KEY_PATTERN

CUSTOMER = {"name": "Ada Canary", "email": "ada.canary@example.com", "address": "1 Canary Rd"}
THRESHOLD = 100_000


class Inbox:
    """Keeps every mail the SMTP server accepts."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        mail["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.mails.append(mail)  # type: ignore[arg-type]
        return "250 Message accepted"

    def about(self, order_id: str) -> list[EmailMessage]:
        return [m for m in self.mails if order_id in str(m["Subject"])]


@dataclass
class Mailroom:
    host: DevHostProcess
    inbox: Inbox
    smtp: Controller
    storage: str

    def order(self, price: int) -> str:
        connection = StorageConnection(connection_string=self.storage)
        adapters = build_order_adapters(connection, order_storage_names({}), payment_provider=None)
        sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
        adapters.stock.set_level(sku, 10)
        order_id = f"n-{uuid.uuid4().hex[:10]}"
        body = {
            "order_id": order_id,
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": price}],
            "customer": CUSTOMER,
        }
        answer = self.host.http.post(self.host.url("/api/orders"), json=body, timeout=30)
        assert answer.status_code == 202, answer.text
        return order_id


@pytest.fixture(scope="module")
def mailroom(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailroom]:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
        # Escalation after 4 seconds of wall-clock time.
        "ORDER_APPROVAL_ESCALATION_HOURS": str(4 / 3600),
        "APPROVAL_SIGNING_KEY": "notifications-e2e-approval-key-0123456789",
        "ORDER_APPROVERS": "alice=alice@example.com,bob=bob@example.com",
        "ORDER_ESCALATION_APPROVERS": "carol=carol@example.com",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MAIL_TRANSPORT": "smtp",
        "MAIL_FROM": "orders@shop.example.com",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        # Rows left pending are tried every second, a failed one again after a second.
        "NOTIFICATIONS_RESEND_SCHEDULE": "* * * * * *",
        "MAIL_FIRST_RETRY_SECONDS": "1",
    }
    state = tmp_path_factory.mktemp("notifications")
    room = None
    try:
        with DevHostProcess(PROJECT_ROOT, port=port, state_dir=state, env=env) as host:
            room = Mailroom(host, inbox, smtp, azurite.connection_string)
            yield room
    finally:
        (room.smtp if room else smtp).stop()


def test_requests_escalation_and_confirmation_arrive_with_links(mailroom: Mailroom) -> None:
    order_id = mailroom.order(THRESHOLD + 1)
    inbox = mailroom.inbox
    wait_until(lambda: len(inbox.about(order_id)) >= 3, 60, "requests and the escalation")
    by_recipient = {str(m["X-Envelope-To"]): m for m in inbox.about(order_id)}
    assert set(by_recipient) == {"alice@example.com", "bob@example.com", "carol@example.com"}
    alice, carol = by_recipient["alice@example.com"], by_recipient["carol@example.com"]
    assert alice["Subject"] == f"Order {order_id} needs your approval"
    assert carol["Subject"] == f"Escalated: Order {order_id} needs your approval"
    text = alice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = next(word for word in text.split() if "/api/approvals#" in word)
    assert link.startswith(f"{mailroom.host.base_url}/api/approvals#v1.")
    html = alice.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'href="{link}"' in html

    # The approver follows the link (the page's decision call), the order completes, and the
    # customer's confirmation goes to the address the claim check holds.
    token = link.split("#", 1)[1]
    decided = mailroom.host.http.post(
        mailroom.host.url("/api/approvals/decision"),
        json={"token": token, "approved": True},
        timeout=30,
    )
    assert decided.status_code == 202, decided.text
    wait_until(
        lambda: any("confirmed" in str(m["Subject"]) for m in inbox.about(order_id)),
        60,
        "the confirmation",
    )
    [confirmation] = [m for m in inbox.about(order_id) if "confirmed" in str(m["Subject"])]
    assert confirmation["X-Envelope-To"] == CUSTOMER["email"]
    assert "Hello Ada Canary" in confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # Each mail once, and no personal data or token in the app's log.
    assert len({m["Message-ID"] for m in inbox.about(order_id)}) == len(inbox.about(order_id))
    logs = mailroom.host.logs()
    assert token not in logs and CUSTOMER["email"] not in logs and "alice@" not in logs


def test_an_smtp_outage_delays_mail_and_loses_none(mailroom: Mailroom) -> None:
    mailroom.smtp.stop()
    try:
        order_id = mailroom.order(2_500)  # below the threshold: straight to the confirmation
        wait_until(
            lambda: (
                "Notification " + order_id in mailroom.host.logs()
                and "SMTP unreachable" in mailroom.host.logs()
            ),
            60,
            "a failed attempt while SMTP is down",
        )
        assert mailroom.inbox.about(order_id) == []
    finally:  # the server comes back on the same port
        mailroom.smtp = Controller(mailroom.inbox, hostname="127.0.0.1", port=mailroom.smtp.port)
        mailroom.smtp.start()
    wait_until(lambda: mailroom.inbox.about(order_id), 60, "the confirmation after the outage")
    assert len(mailroom.inbox.about(order_id)) == 1


def test_a_message_that_is_not_a_row_s_keys_is_recorded_not_retried(mailroom: Mailroom) -> None:
    """A wrong shape and keys the Table service refuses ("a/b" passed the old parse, then failed
    every attempt into the poison queue): each is recorded with its reason, once, and completed;
    a valid message still delivers."""
    connection = StorageConnection(connection_string=mailroom.storage)
    queue = notifications_queue(connection)
    bodies = {"not a row's keys", json.dumps({"order_id": "a/b", "row": "x"})}
    sent = {queue.send_message(body).id: body for body in bodies}
    store = build_rejected_messages(connection, order_storage_names({}).rejected_messages_table)

    def rejected() -> dict[str, RejectedMessage]:
        rows = store.for_queue(NOTIFICATIONS_QUEUE)
        return {row.message_id: row for row in rows if row.message_id in sent}

    wait_until(lambda: len(rejected()) == len(sent), 60, "both messages recorded as rejected")
    time.sleep(3)  # a retried message would be back within a second (visibilityTimeout 0)
    rows = rejected()
    reasons = {sent[message_id]: row.reason for message_id, row in rows.items()}
    assert reasons["not a row's keys"].startswith("the body is not JSON: ")
    assert reasons['{"order_id": "a/b", "row": "x"}'] == (
        f"order_id: String should match pattern '{TABLE_KEY_PATTERN}'"
    )
    for message_id, row in rows.items():
        assert (row.delivery_count, row.body_bytes) == (1, len(sent[message_id].encode()))
        assert row.enqueued_at is not None and row.enqueued_at <= row.rejected_at
    logs = mailroom.host.logs()
    for message_id in sent:
        assert f"Rejected message {message_id} on notifications" in logs
        assert f"message {message_id} failed on attempt" not in logs
    assert not [m for m in queue.peek_messages(max_messages=32) if m.id in sent]
    assert _poisoned(mailroom.storage) & bodies == set()

    order_id = mailroom.order(2_500)  # its confirmation's message is a row's keys
    wait_until(lambda: mailroom.inbox.about(order_id), 60, "the confirmation")


def _poisoned(storage: str) -> set[str]:
    """The bodies in the notifications queue's poison queue (none if it was never created)."""
    poison = QueueClient.from_connection_string(storage, f"{NOTIFICATIONS_QUEUE}-poison")
    try:
        messages = poison.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        return set()
    return {base64.b64decode(m.content).decode("utf-8", "replace") for m in messages}
