"""Saves docs/images/approval-page.png: the approval page an approver sees, in Chromium.

    python scripts/approval_screenshot.py [--out docs/images/approval-page.png]

Starts its own Azurite and devhost on free ports in a temporary folder (nothing of yours is
touched), places an order above the approval threshold, renders approver-1's link from the
outbox as the mailer does, and opens it in Debian's Chromium (`make browser`) with Playwright.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

import app_config  # noqa: E402
from adapters.approval_mail import render_approval_request  # noqa: E402
from adapters.factory import build_order_adapters  # noqa: E402
from app_config import StorageConnection, order_storage_names  # noqa: E402
from devhost.azurite import Azurite  # noqa: E402
from devhost.testing import DevHostProcess, free_port, wait_until  # noqa: E402

KEY = "screenshot-only-approval-signing-key-0123456789"
CHROMIUM = "/usr/bin/chromium"
# The flags the tests launch it with (tests/conftest.py): no background connections.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "approval-page.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Azurite(Path(folder) / "azurite") as azurite:
        port = free_port()
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "TASK_HUB_NAME": "JobsHub",  # host.json reads it
            "PAYMENT_PROVIDER": "simulated",
            "APPROVAL_SIGNING_KEY": KEY,
            "ORDER_APPROVERS": "approver-1=approver-1@example.com",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        state = Path(folder) / "devhost"
        with DevHostProcess(ROOT, port=port, state_dir=state, virtual_time=True, env=env) as host:
            host.set_time(auto_advance=False)  # the order keeps waiting
            adapters = build_order_adapters(
                StorageConnection(connection_string=azurite.connection_string),
                order_storage_names({}),
                payment_provider="simulated",
            )
            adapters.stock.set_level("SKU-LAPTOP", 20)
            adapters.stock.set_level("SKU-DOCK", 20)
            order_id = f"o-{uuid.uuid4().hex[:6]}"
            order = {
                "order_id": order_id,
                "currency": "EUR",
                "lines": [
                    {"sku": "SKU-LAPTOP", "quantity": 8, "unit_price_cents": 149_900},
                    {"sku": "SKU-DOCK", "quantity": 8, "unit_price_cents": 21_900},
                ],
                "customer": {"name": "Ada Example", "email": "ada@example.invalid"},
            }
            answer = host.http.post(host.url("/api/orders"), json=order, timeout=30)
            answer.raise_for_status()
            outbox = adapters.outbox
            wait_until(lambda: outbox.approval_requests(order_id), 30, "the approval request")
            row = outbox.approval_requests(order_id)[0]
            mail = render_approval_request(row, app_config.approval_settings(env), KEY.encode())
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 480, "height": 900})
                page.goto(mail.link)
                page.get_by_role("button", name="Approve").wait_for()
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
