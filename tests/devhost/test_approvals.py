"""Human approval end to end: the app at the repository root on devhost and Azurite, real
activities and virtual time. An order above the threshold queues one approval request per
approver in the outbox; the test renders each request's link as the mailer does
(adapters/approval_mail.py) and a person's side runs in Debian's Chromium through Playwright:
approve, reject with a reason, an expired link, a double click, a link scanner's visit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient
from playwright.sync_api import Page, expect

import app_config
from adapters.approval_mail import ApprovalMail, render_approval_request
from adapters.factory import OrderAdapters, build_order_adapters
from adapters.payments import SIMULATED, LedgerPaymentProvider
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, free_port, wait_until
from domain.payments import charge_key

THRESHOLD = 100_000
SIGNING_KEY = "approvals-e2e-approval-signing-key-0123456789"
CUSTOMER = {"name": "Approval Canary", "email": "canary@example.invalid", "address": "9 Rd"}
DAY = timedelta(days=1).total_seconds()


@dataclass
class Shop:
    host: DevHostProcess
    env: dict[str, str]
    storage: str

    @property
    def adapters(self) -> OrderAdapters:
        connection = StorageConnection(connection_string=self.storage)
        return build_order_adapters(connection, order_storage_names({}), payment_provider=SIMULATED)

    def order(self, price: int = THRESHOLD + 50_000) -> tuple[str, str]:
        """A waiting order of one unit of its own SKU (10 on the shelf): its id and SKU."""
        sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
        self.adapters.stock.set_level(sku, 10)
        order_id = f"ap-{uuid.uuid4().hex[:12]}"
        body = {
            "order_id": order_id,
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": price}],
            "customer": CUSTOMER,
        }
        response = self.host.http.post(self.host.url("/api/orders"), json=body, timeout=30)
        assert response.status_code == 202, response.text
        return order_id, sku

    def step(self, order_id: str) -> str | None:
        status = self.host.status(f"order-{order_id}") or {}
        return (status.get("customStatus") or {}).get("step")

    def requests(self, order_id: str) -> dict[str, dict[str, Any]]:
        """The order's approval requests in the outbox, by `<stage>.<approver>`."""
        rows = self.adapters.outbox.approval_requests(order_id)
        return {f"{r['stage']}.{r['approver']}": r for r in rows}

    def waiting(self, order_id: str, count: int = 2) -> dict[str, dict[str, Any]]:
        """Wait until the order waits with `count` requests queued; the requests."""
        wait_until(
            lambda: (
                self.step(order_id) in ("awaiting_approval", "approval_escalated")
                and len(self.requests(order_id)) >= count
            ),
            30,
            f"{count} approval requests for {order_id}",
        )
        return self.requests(order_id)

    def mail(self, row: dict[str, Any], **changes: Any) -> ApprovalMail:
        """What the mailer renders for the row (with `changes`, e.g. another expiry)."""
        settings = app_config.approval_settings(self.env)
        return render_approval_request({**row, **changes}, settings, SIGNING_KEY.encode())

    @property
    def tables(self) -> TableServiceClient:
        return TableServiceClient.from_connection_string(self.storage)

    def result(self, order_id: str) -> dict[str, Any]:
        status = self.host.wait_for(f"order-{order_id}", timeout=60, history=True)
        assert status["runtimeStatus"] == "Completed", status
        return status

    def charges(self, order_id: str) -> int:
        payments = self.adapters.payments
        assert isinstance(payments, LedgerPaymentProvider)
        return sum(1 for r in payments.entries(order_id) if r["RowKey"] == charge_key(order_id))

    def post(self, path: str, body: Any) -> requests.Response:
        return self.host.http.post(self.host.url(path), json=body, timeout=30)


def settings(azurite: Azurite, port: int, **approvals: str) -> dict[str, str]:
    """The app's settings for a devhost on `port`, links pointing at it."""
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
        "APPROVAL_SIGNING_KEY": SIGNING_KEY,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **approvals,
    }


@pytest.fixture(scope="module")
def own_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite of the module's own: "nothing stored anywhere" reads every table, and the
    session's holds other tests' rows."""
    instance = Azurite(tmp_path_factory.mktemp("approvals-azurite"), project_root=PROJECT_ROOT)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def shop(own_storage: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    azurite = own_storage
    state = tmp_path_factory.mktemp("approvals")
    port = free_port()
    env = settings(
        azurite,
        port,
        ORDER_APPROVERS="alice=alice@example.com, bob=bob@example.com",
        ORDER_ESCALATION_APPROVERS="carol=carol@example.com",
    )
    with DevHostProcess(
        PROJECT_ROOT, port=port, state_dir=state, virtual_time=True, env=env
    ) as host:
        # Durable timers move only when a test says so: an order waits until it is decided.
        host.set_time(auto_advance=False)
        yield Shop(host, env, azurite.connection_string)


def everything_stored(shop: Shop, order_id: str) -> str:
    """The order's history, its status answers, every table row about it, and the app's log."""
    parts = [json.dumps(shop.host.raw_history(f"order-{order_id}"))]
    parts.append(shop.host.http.get(shop.host.url(f"/api/orders/{order_id}")).text)
    for table in shop.tables.list_tables():
        client = shop.tables.get_table_client(table.name)
        parts += [json.dumps(r, default=str) for r in client.list_entities()]
    parts.append(shop.host.logs())
    return "\n".join(parts)


# -- the requests ----------------------------------------------------------------------------


def test_each_approver_gets_a_request_and_no_token_is_stored_anywhere(shop: Shop) -> None:
    order_id, _ = shop.order()
    rows = shop.waiting(order_id)
    assert set(rows) == {"approval.alice", "approval.bob"}
    created = datetime.fromisoformat(shop.host.status(f"order-{order_id}")["createdTime"])
    for row in rows.values():
        # The sender may have sent it already (the queue trigger runs at once): either is fine.
        assert row["status"] in ("pending", "sent") and row["kind"] == "approval_request"
        # The links expire with the order's wait: 72 hours (the default) after it started.
        assert abs(row["expires_at"] - (created + timedelta(hours=72))) < timedelta(minutes=1)
    mails = {name: shop.mail(row) for name, row in rows.items()}
    alice = mails["approval.alice"]
    assert alice.to == "alice@example.com" and order_id in alice.subject
    assert alice.link.startswith(f"{shop.env['PUBLIC_BASE_URL']}/api/approvals#v1.")
    assert alice.link in alice.text
    assert shop.mail(rows["approval.alice"]).link == alice.link  # the same row, the same link

    # Escalation: the escalation approver is asked too, for the same deadline.
    shop.host.set_time(advance_seconds=DAY + 60)
    rows = shop.waiting(order_id, count=3)
    assert rows["escalation.carol"]["expires_at"] == rows["approval.alice"]["expires_at"]
    assert shop.step(order_id) == "approval_escalated"
    mails["escalation.carol"] = shop.mail(rows["escalation.carol"])
    assert mails["escalation.carol"].subject.startswith("Escalated:")

    stored = everything_stored(shop, order_id)
    for mail in mails.values():
        token = mail.link.split("#", 1)[1]
        assert token not in stored
        assert token.split(".")[2] not in stored  # not even its signature
    assert "/api/approvals#" not in stored
    assert all(address not in stored for address in ("alice@", "bob@", "carol@"))


# -- the page's routes -----------------------------------------------------------------------

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def test_the_page_and_its_files_are_served_with_strict_headers(shop: Shop) -> None:
    pages = {
        "/api/approvals": "text/html",
        "/api/approvals/assets/approval.js": "text/javascript",
        "/api/approvals/assets/approval.css": "text/css",
    }
    for path, media in pages.items():
        response = shop.host.http.get(shop.host.url(path), timeout=30)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith(media), path
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
        policy = response.headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "form-action 'self'"):
            assert directive in policy
        assert "frame-ancestors 'none'" in policy
    html = shop.host.http.get(shop.host.url("/api/approvals"), timeout=30).text
    assert "<script>" not in html and "onclick" not in html  # no inline script
    missing = shop.host.http.get(shop.host.url("/api/approvals/assets/../host.json"), timeout=30)
    assert missing.status_code == 404
    assert shop.host.http.get(shop.host.url("/api/approvals/assets/x.js")).status_code == 404


def test_the_decision_routes_refuse_bad_tokens_and_a_second_decision(shop: Shop) -> None:
    order_id, _ = shop.order()
    rows = shop.waiting(order_id)
    alice = shop.mail(rows["approval.alice"]).link.split("#", 1)[1]
    bob = shop.mail(rows["approval.bob"]).link.split("#", 1)[1]
    forged = alice[:-4] + ("AAAA" if not alice.endswith("AAAA") else "BBBB")
    for token in (forged, alice[: len(alice) // 2], "v1.x.y"):
        bodies = {"summary": {"token": token}, "decision": {"token": token, "approved": True}}
        for route, body in bodies.items():
            path = f"/api/approvals/{route}"
            answer = shop.post(path, body)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert shop.post("/api/approvals/decision", {"token": alice}).status_code == 400

    summary = shop.post("/api/approvals/summary", {"token": alice})
    assert summary.status_code == 200, summary.text
    shown = summary.json()
    assert shown["order_id"] == order_id and shown["approver"] == "alice"
    assert shown["total_cents"] == THRESHOLD + 50_000 and shown["currency"] == "EUR"
    assert shown["awaiting_decision"] is True and shown["decision"] is None
    # The request's expiry (on devhost's virtual clock, ahead of the wall clock here).
    expires = datetime.fromisoformat(shown["expires_at"])
    assert abs(expires - rows["approval.alice"]["expires_at"]) < timedelta(seconds=1)
    assert shown["seconds_left"] > 0
    assert all(value not in summary.text for value in CUSTOMER.values())

    first = shop.post("/api/approvals/decision", {"token": alice, "approved": True})
    assert first.status_code == 202, first.text
    second = shop.post("/api/approvals/decision", {"token": bob, "approved": False})
    assert second.status_code == 409
    # Refused by the claim, or (once the order has moved on) because it no longer waits.
    assert second.json()["title"] in ("Already decided", "Not awaiting approval")
    status = shop.result(order_id)
    assert status["output"]["status"] == "Completed"
    assert shop.charges(order_id) == 1
    after = shop.post("/api/approvals/summary", {"token": bob}).json()
    assert after["awaiting_decision"] is False and after["decision"] == "approved"


def test_a_decision_after_the_deadline_changes_nothing(shop: Shop) -> None:
    order_id, _ = shop.order()
    rows = shop.waiting(order_id)
    token = shop.mail(rows["approval.bob"]).link.split("#", 1)[1]
    shop.host.set_time(advance_seconds=3 * DAY + 60)  # past escalation and the final deadline
    status = shop.result(order_id)
    assert status["output"]["status"] == "Rejected"
    answer = shop.post("/api/approvals/decision", {"token": token, "approved": True})
    assert answer.status_code == 409
    assert shop.host.status(f"order-{order_id}")["output"]["status"] == "Rejected"


# -- a person in a browser -------------------------------------------------------------------


def open_link(page: Page, link: str) -> None:
    page.goto(link)
    expect(page.locator("#status")).not_to_have_text("Loading the order…")


def test_an_approver_approves_in_the_browser(shop: Shop, page: Page) -> None:
    order_id, _ = shop.order()
    link = shop.mail(shop.waiting(order_id)["approval.alice"]).link
    open_link(page, link)
    expect(page.locator("#order-id")).to_have_text(order_id)
    expect(page.locator("#approver")).to_have_text("alice")
    expect(page.locator("#lines tr")).to_have_count(1)
    assert "#" not in page.url  # the token left the address bar
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#outcome")).to_have_text("Approved. The order goes on to shipping.")
    status = shop.result(order_id)
    assert status["output"]["status"] == "Completed"
    assert shop.charges(order_id) == 1


def test_an_approver_rejects_with_a_reason_and_the_order_is_undone(shop: Shop, page: Page) -> None:
    order_id, sku = shop.order()
    link = shop.mail(shop.waiting(order_id)["approval.bob"]).link
    open_link(page, link)
    page.get_by_label("Reason").fill("over this month's budget")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#outcome")).to_contain_text("Rejected.")
    output = shop.result(order_id)["output"]
    assert output["status"] == "Rejected" and output["reason"] == "over this month's budget"
    level = shop.adapters.stock.level(sku)
    assert (level.available, level.reserved) == (10, 0)  # the reservation was released
    payments = shop.adapters.payments
    assert isinstance(payments, LedgerPaymentProvider)
    assert sorted(r.get("kind") for r in payments.entries(order_id)) == ["charge", "refund"]


def test_an_expired_link_says_so_and_changes_nothing(shop: Shop, page: Page) -> None:
    order_id, _ = shop.order()
    row = shop.waiting(order_id)["approval.alice"]
    expired = shop.mail(row, expires_at=datetime.now(UTC) - timedelta(minutes=1)).link
    open_link(page, expired)
    expect(page.locator("#status")).to_have_text(
        "This link is not valid or has expired. Nothing was changed."
    )
    expect(page.get_by_role("button", name="Approve")).to_be_hidden()
    assert shop.step(order_id) == "awaiting_approval"


def test_a_double_click_decides_once(shop: Shop, page: Page) -> None:
    order_id, _ = shop.order()
    rows = shop.waiting(order_id)
    decisions: list[str] = []
    page.on("request", lambda r: decisions.append(r.url) if r.url.endswith("/decision") else None)
    open_link(page, shop.mail(rows["approval.alice"]).link)
    page.get_by_role("button", name="Approve").dblclick()
    expect(page.locator("#outcome")).to_have_text("Approved. The order goes on to shipping.")
    assert shop.result(order_id)["output"]["status"] == "Completed"
    assert len(decisions) == 1 and shop.charges(order_id) == 1
    # The other approver's link now says it was decided, and offers no buttons.
    open_link(page, shop.mail(rows["approval.bob"]).link)
    expect(page.locator("#status")).to_have_text(
        "This order was already approved. Nothing more to do."
    )
    expect(page.get_by_role("button", name="Reject")).to_be_hidden()


def test_a_link_scanner_that_opens_the_page_decides_nothing(shop: Shop, page: Page) -> None:
    order_id, _ = shop.order()
    link = shop.mail(shop.waiting(order_id)["approval.alice"]).link
    # A scanner that fetches the URL (a fragment is never sent) and one that runs the page.
    assert requests.get(link, timeout=30).status_code == 200
    open_link(page, link)
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    assert shop.step(order_id) == "awaiting_approval"
    assert shop.adapters.orders.decision_of(order_id) is None
    history = shop.host.status(f"order-{order_id}", history=True)["historyEvents"]
    assert [e for e in history if e["EventType"] == "EventRaised"] == []


# -- APPROVAL_REQUIRE_SIGNED_IN --------------------------------------------------------------


def test_with_sign_in_required_only_the_approver_signed_in_decides(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Easy Auth in front sets X-MS-CLIENT-PRINCIPAL-NAME (the edge, which cannot run here);
    the app then checks it against the link's approver."""
    port = free_port()
    env = settings(
        azurite,
        port,
        ORDER_APPROVERS="alice=Alice@Example.com",
        APPROVAL_REQUIRE_SIGNED_IN="true",
    )
    state = tmp_path_factory.mktemp("approvals-signed-in")
    with DevHostProcess(
        PROJECT_ROOT, port=port, state_dir=state, virtual_time=True, env=env
    ) as host:
        host.set_time(auto_advance=False)
        shop = Shop(host, env, azurite.connection_string)
        order_id, _ = shop.order()
        token = shop.mail(shop.waiting(order_id, count=1)["approval.alice"]).link.split("#")[1]
        decide = {"token": token, "approved": True}
        url = host.url("/api/approvals/decision")
        for who in (None, "mallory@example.com"):
            headers = {} if who is None else {"X-MS-CLIENT-PRINCIPAL-NAME": who}
            refused = host.http.post(url, json=decide, headers=headers, timeout=30)
            assert refused.status_code == 403, refused.text
        assert shop.adapters.orders.decision_of(order_id) is None
        signed_in = {"X-MS-CLIENT-PRINCIPAL-NAME": "alice@example.com"}
        assert host.http.post(url, json=decide, headers=signed_in, timeout=30).status_code == 202
        assert shop.result(order_id)["output"]["status"] == "Completed"
