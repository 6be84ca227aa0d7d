"""Lists the outbox's notifications that are dead (or pending), and sends one again.

    python scripts/notifications.py list [--status dead|pending|sent]
    python scripts/notifications.py resend <order id> <row key>

For the runbook (docs/operations.md, "Notifications that were not sent"): a dead row failed
permanently or ran out of attempts; fix the cause (an address, the transport's settings), then
resend it: the row is pending again, due now, and the sender is told. Lines show the keys, the
kind, attempts and the reason, never an address or a link. Settings come from the environment,
else the current folder's local.settings.json `Values`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.factory import root  # noqa: E402  (the app's modules live at the root)
from adapters.notifications import DEAD, PENDING, SENT  # noqa: E402
from scripts.publish_order import load_local_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="notifications in one status (dead)")
    listing.add_argument("--status", choices=(DEAD, PENDING, SENT), default=DEAD)
    resend = commands.add_parser("resend", help="make a notification pending again")
    resend.add_argument("order_id")
    resend.add_argument("row_key")
    args = parser.parse_args(argv)
    load_local_settings(Path.cwd() / "local.settings.json")
    outbox = root.orders().outbox
    if args.command == "list":
        rows = outbox.with_status(args.status)
        for row in rows:
            kind = row.get("kind") or row["RowKey"]
            reason = row.get("reason") or ""
            print(f"{row['PartitionKey']} {row['RowKey']} {kind} {row.get('attempts', 0)} {reason}")
        print(f"{len(rows)} {args.status} notification(s)", file=sys.stderr)
        return 0
    if not outbox.resend(args.order_id, args.row_key):
        print(f"no notification {args.order_id}/{args.row_key}", file=sys.stderr)
        return 3
    print(f"{args.order_id}/{args.row_key} is pending again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
