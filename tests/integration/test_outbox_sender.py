"""The outbox sender on Azurite with a real SMTP server (aiosmtpd on a free port): what arrives,
what an outage, a crash between send and mark, a throttle and a refusal do to a row."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import QueueClient

import app_config
from adapters.mail import FileTransport, MailTransport, OutgoingMail, SmtpTransport
from adapters.mail_content import MailContext, render
from adapters.notifications import NOTIFICATIONS_QUEUE
from adapters.outbox_sender import OutboxSender
from devhost.testing import free_port
from domain.notifications import mail_id

World = Any  # tests/integration/conftest.py
KEY = b"outbox-test-approval-signing-key-0123456789"
CUSTOMER = {"name": "Ada Canary", "email": "ada.canary@example.com", "address": "1 Canary Rd"}
APPROVALS = app_config.approval_settings(
    {
        "ORDER_APPROVERS": "alice=alice@example.com",
        "ORDER_ESCALATION_APPROVERS": "carol=carol@example.com",
        "PUBLIC_BASE_URL": "https://orders.example.com",
    }
)


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def body(mail: EmailMessage, kind: str) -> str:
    return mail.get_body((kind,)).get_content()  # type: ignore[union-attr]


class Inbox:
    """An aiosmtpd handler that keeps every mail; `refuse` answers RCPT with that code."""

    def __init__(self) -> None:
        self.mails: list[tuple[Envelope, EmailMessage]] = []
        self.refuse: int | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.refuse is not None:
            return f"{self.refuse} 5.1.1 refused by the test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mails.append((envelope, parse(envelope.content)))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, Controller]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller
    finally:
        controller.stop()


def sender(world: World, transport: MailTransport, max_attempts: int = 3) -> OutboxSender:
    adapters = world.adapters
    context = MailContext(
        sender="orders@shop.example.com",
        approvals=APPROVALS,
        signing_key=lambda: KEY,
        customer=adapters.claims.read,
    )
    return OutboxSender(
        adapters.outbox,
        transport,
        lambda row: render(row, context),
        max_attempts=max_attempts,
        fault=world.faults,
    )


def smtp_transport(controller: Controller) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", controller.port, security="none", timeout=5)


def confirmation(world: World, order_id: str) -> str:
    ref = world.adapters.claims.put(order_id, CUSTOMER)
    world.adapters.outbox.enqueue(order_id, "confirmation", ref)
    return "confirmation"


def time_passes(world: World, order_id: str, row_key: str) -> None:
    """The row's retry time has come (as it would after waiting)."""
    table = TableServiceClient.from_connection_string(world.connection_string).get_table_client(
        world.names.outbox_table
    )
    row = table.get_entity(order_id, row_key)
    row["next_attempt_at"] = datetime.now(UTC) - timedelta(seconds=1)
    table.update_entity(row, mode=UpdateMode.REPLACE)


def test_a_confirmation_arrives_by_smtp_with_a_stable_message_id(world: World, smtp) -> None:
    inbox, controller = smtp
    row = confirmation(world, "o-mail-1")
    assert sender(world, smtp_transport(controller)).send_row("o-mail-1", row) == "sent"
    [(envelope, mail)] = inbox.mails
    assert envelope.rcpt_tos == ["ada.canary@example.com"]
    assert mail["Subject"] == "Your order o-mail-1 is confirmed"
    assert mail["From"] == "orders@shop.example.com"
    assert mail["Message-ID"] == f"<{mail_id('o-mail-1', row)}@shop.example.com>"
    assert "Hello Ada Canary" in body(mail, "plain") and "o-mail-1" in body(mail, "html")
    stored = world.adapters.outbox.get("o-mail-1", row)
    assert stored["status"] == "sent" and stored["transport"] == "smtp"
    # Sent once: the queue trigger's second look and the timer find nothing to do.
    assert sender(world, smtp_transport(controller)).send_row("o-mail-1", row) == "skipped"
    assert len(inbox.mails) == 1
    # Personal data never in the row or the queue message: the claim check holds it.
    assert all(value not in json.dumps(stored, default=str) for value in CUSTOMER.values())


def test_the_queue_message_holds_the_rows_keys_only(world: World, azurite) -> None:
    confirmation(world, "o-mail-q")
    queue = QueueClient.from_connection_string(azurite.connection_string, NOTIFICATIONS_QUEUE)
    bodies = [json.loads(base64.b64decode(m.content)) for m in queue.peek_messages(max_messages=32)]
    assert {"order_id": "o-mail-q", "row": "confirmation"} in bodies
    assert all(set(body) == {"order_id", "row"} for body in bodies)


def test_an_approval_request_arrives_with_its_link(world: World, smtp) -> None:
    inbox, controller = smtp
    expires = datetime.now(UTC) + timedelta(days=3)
    world.adapters.outbox.enqueue_approval_request("o-mail-2", "alice", "approval", expires)
    outcomes = sender(world, smtp_transport(controller)).send_due()
    assert outcomes.get("sent", 0) >= 1
    [(envelope, mail)] = [(e, m) for e, m in inbox.mails if "o-mail-2" in m["Subject"]]
    assert envelope.rcpt_tos == ["alice@example.com"]
    text = body(mail, "plain")
    assert "https://orders.example.com/api/approvals#v1." in text


def test_an_outage_leaves_the_row_pending_and_it_goes_out_when_smtp_returns(world: World) -> None:
    row = confirmation(world, "o-mail-3")
    port = free_port()  # nothing listens yet
    down = SmtpTransport("127.0.0.1", port, security="none", timeout=2)
    assert sender(world, down).send_row("o-mail-3", row) == "retry"
    stored = world.adapters.outbox.get("o-mail-3", row)
    assert stored["status"] == "pending" and stored["attempts"] == 1
    assert stored["next_attempt_at"] > datetime.now(UTC) + timedelta(seconds=20)
    assert "SMTP unreachable" in stored["reason"]

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time_passes(world, "o-mail-3", row)
        assert sender(world, smtp_transport(controller)).send_due().get("sent", 0) >= 1
        assert [m["Subject"] for _, m in inbox.mails] == ["Your order o-mail-3 is confirmed"]
    finally:
        controller.stop()
    assert world.adapters.outbox.get("o-mail-3", row)["status"] == "sent"


def test_a_crash_between_send_and_mark_sends_at_most_one_duplicate(
    world: World, smtp, crash
) -> None:
    inbox, controller = smtp
    row = confirmation(world, "o-mail-4")
    world.faults.armed.add("outbox.sent")
    with pytest.raises(crash):
        sender(world, smtp_transport(controller)).send_row("o-mail-4", row)
    assert world.adapters.outbox.get("o-mail-4", row)["status"] == "pending"
    time_passes(world, "o-mail-4", row)  # the lease the crashed sender held runs out
    assert sender(world, smtp_transport(controller)).send_row("o-mail-4", row) == "sent"
    ids = [m["Message-ID"] for _, m in inbox.mails]
    assert len(ids) == 2 and ids[0] == ids[1]  # the duplicate is recognisable


def test_a_refused_recipient_is_dead_at_once(world: World, smtp) -> None:
    inbox, controller = smtp
    inbox.refuse = 550
    row = confirmation(world, "o-mail-5")
    assert sender(world, smtp_transport(controller)).send_row("o-mail-5", row) == "dead"
    stored = world.adapters.outbox.get("o-mail-5", row)
    assert stored["status"] == "dead" and "550" in stored["reason"]
    assert "ada.canary" not in stored["reason"]
    # The runbook's resend: pending again, due now, and the queue told.
    inbox.refuse = None
    assert world.adapters.outbox.resend("o-mail-5", row)
    assert sender(world, smtp_transport(controller)).send_row("o-mail-5", row) == "sent"


class Throttled:
    """A transport that answers 429 with Retry-After the first time (ACS's limits do)."""

    name = "throttled"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, mail: OutgoingMail) -> None:
        from adapters.mail import TransientMailError

        self.calls += 1
        if self.calls == 1:
            raise TransientMailError("429 Too Many Requests", retry_after=45)


def test_a_throttle_waits_as_told_and_is_not_a_failed_attempt(world: World) -> None:
    row = confirmation(world, "o-mail-6")
    transport = Throttled()
    mailer = sender(world, transport, max_attempts=1)
    assert mailer.send_row("o-mail-6", row) == "throttled"
    stored = world.adapters.outbox.get("o-mail-6", row)
    assert stored["status"] == "pending" and stored["attempts"] == 0
    wait = stored["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=40) < wait <= timedelta(seconds=45)
    time_passes(world, "o-mail-6", row)
    assert mailer.send_row("o-mail-6", row) == "sent"  # max_attempts 1: the throttle did not count


def test_after_the_last_attempt_a_row_is_dead(world: World) -> None:
    row = confirmation(world, "o-mail-7")
    down = SmtpTransport("127.0.0.1", free_port(), security="none", timeout=2)
    mailer = sender(world, down, max_attempts=2)
    assert mailer.send_row("o-mail-7", row) == "retry"
    time_passes(world, "o-mail-7", row)
    assert mailer.send_row("o-mail-7", row) == "dead"
    stored = world.adapters.outbox.get("o-mail-7", row)
    assert stored["status"] == "dead" and "after 2 attempts" in stored["reason"]


def test_the_file_transport_writes_one_eml_per_row(world: World, tmp_path: Path) -> None:
    row = confirmation(world, "o-mail-8")
    assert sender(world, FileTransport(tmp_path)).send_row("o-mail-8", row) == "sent"
    [written] = list(tmp_path.glob("*.eml"))
    assert written.name == f"{mail_id('o-mail-8', row)}.eml"
    mail = parse(written.read_bytes())
    assert mail["To"] == "ada.canary@example.com"
