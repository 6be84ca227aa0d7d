"""Approvers from settings, the base URL of links, token claims, and a request rendered as mail."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import app_config
from adapters.approval_mail import approval_link, render_approval_request
from domain.approval_tokens import InvalidApprovalToken, read_claims, verify
from domain.fulfilment import WORKFLOW_VERSION, WorkflowInput
from domain.payload import read

KEY = b"unit-test-approval-signing-key-0123456789"
ENV = {
    "ORDER_APPROVERS": "alice=alice@example.com; bob = bob@example.org",
    "ORDER_ESCALATION_APPROVERS": "carol=carol@example.com",
    "PUBLIC_BASE_URL": "https://orders.example.com/",
}
EXPIRES = datetime(2030, 1, 4, 12, 0, tzinfo=UTC)
ROW = {"PartitionKey": "o-42", "approver": "bob", "stage": "approval", "expires_at": EXPIRES}


def test_approvers_and_the_base_url_come_from_settings() -> None:
    settings = app_config.approval_settings(ENV)
    assert [(a.id, a.email) for a in settings.approvers] == [
        ("alice", "alice@example.com"),
        ("bob", "bob@example.org"),
    ]
    assert settings.approver("carol").email == "carol@example.com"  # type: ignore[union-attr]
    assert settings.approver("mallory") is None
    assert settings.public_base_url == "https://orders.example.com"
    assert settings.require_signed_in is False
    assert "alice@" not in repr(settings)  # addresses stay out of logs


def test_without_a_setting_links_use_the_platforms_host_name() -> None:
    settings = app_config.approval_settings({"WEBSITE_HOSTNAME": "app-x.azurewebsites.net"})
    assert settings.public_base_url == "https://app-x.azurewebsites.net"
    assert settings.approvers == () and app_config.approval_settings({}).public_base_url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORDER_APPROVERS": "alice"}, "ORDER_APPROVERS, entry 1: expected id=email"),
        ({"ORDER_APPROVERS": "a=a@x.io,b c=b@x.io"}, "ORDER_APPROVERS, entry 2: the id"),
        ({"ORDER_ESCALATION_APPROVERS": "c=not-an-address"}, "entry 1: not an email address"),
        ({"ORDER_APPROVERS": "a=a@x.io,a=b@x.io"}, "the id 'a' is listed twice"),
        ({"PUBLIC_BASE_URL": "ftp://x.io"}, "PUBLIC_BASE_URL must be an http.s. URL"),
        ({"PUBLIC_BASE_URL": "https://x.io/?q=1"}, "PUBLIC_BASE_URL must be an http.s. URL"),
        ({"APPROVAL_REQUIRE_SIGNED_IN": "yes"}, "APPROVAL_REQUIRE_SIGNED_IN must be true or"),
    ],
)
def test_a_bad_setting_fails_naming_it_and_never_the_address(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as failure:
        app_config.approval_settings(env)
    assert "@x.io" not in str(failure.value) and "not-an-address" not in str(failure.value)


def test_a_request_renders_to_a_mail_whose_link_carries_the_token_in_its_fragment() -> None:
    settings = app_config.approval_settings(ENV)
    mail = render_approval_request(ROW, settings, KEY)
    assert mail.to == "bob@example.org" and mail.subject == "Order o-42 needs your approval"
    base, token = mail.link.split("#", 1)
    assert base == "https://orders.example.com/api/approvals"
    assert mail.link in mail.text and "2030-01-04 12:00" in mail.text
    # The same row, the same link: nothing needs storing, and a resend sends the same mail.
    assert render_approval_request(ROW, settings, KEY).link == mail.link
    claims = read_claims(token, EXPIRES - timedelta(seconds=1), KEY)
    assert (claims.order_id, claims.approver, claims.expires_at) == ("o-42", "bob", EXPIRES)
    assert verify(token, "o-42", EXPIRES - timedelta(days=1), KEY) == "bob"
    with pytest.raises(InvalidApprovalToken, match="expired"):
        read_claims(token, EXPIRES, KEY)
    assert token not in repr(mail) and "bob@" not in repr(mail)


def test_an_escalation_says_so_and_an_unknown_approver_is_an_error() -> None:
    settings = app_config.approval_settings(ENV)
    escalated = render_approval_request(
        {**ROW, "approver": "carol", "stage": "escalation"}, settings, KEY
    )
    assert escalated.subject.startswith("Escalated: ") and "escalated to you" in escalated.text
    with pytest.raises(ValueError, match="'dave' is in neither"):
        render_approval_request({**ROW, "approver": "dave"}, settings, KEY)
    with pytest.raises(ValueError, match="no public base URL"):
        render_approval_request(
            ROW, app_config.approval_settings({**ENV, "PUBLIC_BASE_URL": ""}), KEY
        )


def test_the_link_is_the_page_with_the_token_as_its_fragment() -> None:
    assert approval_link("https://h", "v1.a.b") == "https://h/api/approvals#v1.a.b"


def test_an_input_recorded_before_version_2_reads_as_version_1() -> None:
    """Orders in flight from before approval requests replay as they ran: no request."""
    old = {
        "order": {
            "order_id": "o-1",
            "customer_ref": "ref-1",
            "currency": "EUR",
            "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 250000}],
        },
        "received_at": "2026-11-22T00:00:00+00:00",
        "approval": {
            "threshold_cents": 100000,
            "escalate_after_seconds": 86400.0,
            "timeout_seconds": 259200.0,
        },
    }
    assert read(WorkflowInput, old).version == 1
    assert read(WorkflowInput, {**old, "version": WORKFLOW_VERSION}).version == 2


def test_the_app_does_not_start_with_a_bad_approver_list(project_root: Path) -> None:
    """Checked at start (function_app.py), not when the first order waits."""
    env = {**os.environ, "ORDER_APPROVERS": "alice=alice@example.com,bob"}
    started = subprocess.run(
        [sys.executable, "-c", "import function_app"],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "ValueError: ORDER_APPROVERS, entry 2: expected id=email" in started.stderr
    assert "alice@example.com" not in started.stderr
