"""Prints the approval links of an order's pending requests, rendered as the mailer renders them.

    python scripts/approval_links.py o-1002 [--approver approver-1]

For local runs and support: the links are made from the outbox rows and the signing key here and
now, never read from storage (nothing stores them). Settings come from the environment, else the
current folder's local.settings.json `Values`. Each line is `<stage> <approver> <link>`; with
--approver only that approver's link, alone, for scripts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app_config  # noqa: E402  (the app's modules live at the root)
from adapters.approval_mail import render_approval_request  # noqa: E402
from adapters.factory import root  # noqa: E402
from scripts.publish_order import load_local_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("order_id")
    parser.add_argument("--approver", help="print only this approver's link")
    args = parser.parse_args(argv)
    load_local_settings(Path.cwd() / "local.settings.json")
    try:
        settings = app_config.approval_settings()
        key = app_config.approval_signing_key()
    except ValueError as error:
        raise SystemExit(f"not configured: {error}") from None
    rows = root.orders().outbox.approval_requests(args.order_id)
    if args.approver:
        rows = [row for row in rows if row["approver"] == args.approver]
    if not rows:
        print(f"no approval request for order {args.order_id!r} yet", file=sys.stderr)
        return 3
    for row in sorted(rows, key=lambda r: (r["stage"] != "approval", r["approver"])):
        link = render_approval_request(row, settings, key).link
        print(link if args.approver else f"{row['stage']} {row['approver']} {link}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
