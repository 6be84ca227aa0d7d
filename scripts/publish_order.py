"""Publishes an order to the `orders` queue the way a real publisher must: personal data first
to the private claim-check container, then a message carrying only `customer_ref`.

    python scripts/publish_order.py docs/examples/order.json [--queue orders-express]

Settings come from the environment, else the current folder's local.settings.json `Values`
(Azurite and the Service Bus emulator under Core Tools), so the same command works against
Azure with `AzureWebJobsStorage__accountName` and `ServiceBusConnection__fullyQualifiedNamespace`
and your `az login` identity. The order id is the message id: Service Bus drops a resend within the
duplicate-detection window, and the app's starter ignores any later one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app_config  # noqa: E402  (the app's modules live at the root)
from adapters.factory import root  # noqa: E402
from adapters.messaging import Outgoing, ServiceBusPublisher  # noqa: E402
from domain.failures import PermanentFailure, TransientFailure  # noqa: E402
from domain.order_requests import OrderRequest  # noqa: E402
from domain.payload import InvalidPayload, parse_request  # noqa: E402

QUEUES = ("orders", "orders-express")


def load_local_settings(path: Path) -> None:
    """local.settings.json `Values` into the environment; a variable already set wins."""
    if not path.is_file():
        return
    values = json.loads(path.read_text()).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


def order_message(order: OrderRequest, customer_ref: str, correlation_id: str) -> Outgoing:
    """The message body: the order with the reference in place of the personal data."""
    body = {**order.model_dump(mode="json", exclude={"customer"}, exclude_none=True)}
    body["customer_ref"] = customer_ref
    return Outgoing(body=body, message_id=order.order_id, correlation_id=correlation_id)


def _read_order(path: Path) -> OrderRequest:
    """The order as POST /api/orders takes it: the app's own model says what is wrong."""
    try:
        return parse_request(OrderRequest, path.read_bytes())
    except OSError as error:
        raise SystemExit(f"cannot read the order in {path}: {error}") from None
    except InvalidPayload as invalid:
        raise SystemExit(f"{path} is not an order: {'; '.join(invalid.problems)}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("order", type=Path, help="the order as JSON, with its customer inline")
    parser.add_argument("--queue", choices=QUEUES, default="orders")
    parser.add_argument("--correlation-id", help="default: a new UUID")
    # The current folder's, as `func start` and devhost read the app folder's.
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    args = parser.parse_args(argv)

    order = _read_order(args.order)
    load_local_settings(args.settings)
    correlation_id = args.correlation_id or str(uuid.uuid4())
    ref = root.claims().put(order.order_id, order.customer.model_dump(exclude_none=True))
    message = order_message(order, ref, correlation_id)
    try:
        ServiceBusPublisher(app_config.service_bus_settings()).send_to_queue(args.queue, message)
    except (PermanentFailure, TransientFailure, ValueError) as error:
        print(f"not sent: {error}", file=sys.stderr)
        return 1
    print(f"sent order {message.message_id} to {args.queue} (correlation {correlation_id})")
    print(f"personal data stored at {ref}; the message carries only that reference")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
