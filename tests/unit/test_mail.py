"""Mail settings, retry times, and what each kind of outbox row says (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import app_config
from adapters.factory import build_transport
from adapters.mail import FileTransport, OutgoingMail, PermanentMailError, SmtpTransport, mime
from adapters.mail_content import MailContext, render
from domain.notifications import mail_id, retry_delay

APPROVALS = app_config.approval_settings(
    {
        "ORDER_APPROVERS": "alice=alice@example.com",
        "ORDER_ESCALATION_APPROVERS": "carol=carol@example.com,dan=dan@example.com",
        "PUBLIC_BASE_URL": "https://orders.example.com",
    }
)
CUSTOMERS = {"claim://orders-private/customers/o-1.json": {"name": "Ada", "email": "ada@x.com"}}
CONTEXT = MailContext(
    sender="orders@shop.example.com",
    approvals=APPROVALS,
    signing_key=lambda: b"unit-test-approval-signing-key-0123456789",
    customer=lambda ref: CUSTOMERS[ref],
)


def test_mail_settings_default_to_files_and_check_what_a_transport_needs() -> None:
    local = app_config.mail_settings({})
    assert (local.transport, local.file_folder, local.max_attempts) == ("file", ".devhost/mail", 8)
    assert isinstance(build_transport(local), FileTransport)
    smtp = app_config.mail_settings({"MAIL_TRANSPORT": "SMTP", "SMTP_HOST": "mail.example.com"})
    transport = build_transport(smtp)
    assert isinstance(transport, SmtpTransport) and transport.port == 587
    assert "password" not in repr(app_config.mail_settings({"SMTP_PASSWORD": "s3cret-pw"}))
    for env, message in [
        ({"MAIL_TRANSPORT": "pigeon"}, "MAIL_TRANSPORT must be one of file, smtp, acs"),
        ({"MAIL_TRANSPORT": "smtp"}, "needs SMTP_HOST"),
        ({"MAIL_TRANSPORT": "acs"}, "needs ACS_EMAIL_ENDPOINT"),
        ({"MAIL_TRANSPORT": "acs", "ACS_EMAIL_ENDPOINT": "http://x"}, "ACS_EMAIL_ENDPOINT"),
        ({"SMTP_SECURITY": "ssl3"}, "SMTP_SECURITY must be one of"),
        ({"SMTP_PASSWORD": "@Microsoft.KeyVault(SecretUri=x)"}, "unresolved Key Vault"),
        ({"MAIL_MAX_ATTEMPTS": "0"}, "MAIL_MAX_ATTEMPTS"),
    ]:
        with pytest.raises(ValueError, match=message):
            app_config.mail_settings(env)


def test_retries_double_from_the_first_delay_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(30) == timedelta(hours=1)
    assert retry_delay(2, timedelta(seconds=1)) == timedelta(seconds=2)


def test_a_rows_mail_id_is_stable_and_its_own() -> None:
    assert mail_id("o-1", "confirmation") == mail_id("o-1", "confirmation")
    assert mail_id("o-1", "confirmation") != mail_id("o-2", "confirmation")


def test_a_confirmation_goes_to_the_customer_read_at_send_time() -> None:
    row = {"PartitionKey": "o-1", "RowKey": "confirmation", "kind": "confirmation"}
    mail = render({**row, "customer_ref": "claim://orders-private/customers/o-1.json"}, CONTEXT)
    assert mail.to == ("ada@x.com",) and mail.subject == "Your order o-1 is confirmed"
    assert "Hello Ada" in mail.text and "<strong>o-1</strong>" in mail.html
    assert mail.id == mail_id("o-1", "confirmation") and "ada@x.com" not in repr(mail)


def test_html_parts_escape_what_they_show() -> None:
    customers = {"ref": {"name": "<script>x</script>", "email": "e@x.com"}}
    context = MailContext(CONTEXT.sender, APPROVALS, CONTEXT.signing_key, customers.__getitem__)
    row = {"PartitionKey": "o-1", "RowKey": "confirmation", "customer_ref": "ref"}
    mail = render(row, context)  # a row queued before `kind` existed: its key is the kind
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html


def test_a_version_1_escalation_notice_goes_to_every_escalation_approver() -> None:
    mail = render({"PartitionKey": "o-2", "RowKey": "escalation", "kind": "escalation"}, CONTEXT)
    assert mail.to == ("carol@example.com", "dan@example.com")
    assert "/api/approvals#" not in mail.text  # one mail to several: no one's link in it


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"kind": "rejection"}, "no mail is written for notifications of kind 'rejection'"),
        (
            {"kind": "approval_request", "approver": "mallory", "stage": "approval"},
            "is in neither ORDER_APPROVERS",
        ),
    ],
)
def test_a_row_that_can_never_be_rendered_is_a_permanent_error(row: dict, message: str) -> None:
    expires = {"expires_at": datetime.now(UTC) + timedelta(days=1)}
    with pytest.raises(PermanentMailError, match=message):
        render({"PartitionKey": "o-3", "RowKey": "k", **expires, **row}, CONTEXT)


def test_the_mime_message_has_both_parts_and_a_stable_message_id() -> None:
    mail = OutgoingMail("id-1", "a@shop.example.com", ("b@x.com", "c@x.com"), "S", "t", "<p>h</p>")
    message = mime(mail)
    assert message["Message-ID"] == "<id-1@shop.example.com>"
    assert message["To"] == "b@x.com, c@x.com"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
