"""The real order triggers and workflow over same-named stub activities and a stub claim check.

`ORDER_STUBS_DIR/script.json` maps an order id to, per activity, the outcomes of its calls in
turn ("ok", "transient", "permanent:<reason>", "sleep:<seconds>", "wait:<file>": until the
test creates ORDER_STUBS_DIR/<file>, two minutes at most; calls past the list
succeed), and optionally `record_status` (what record_order reports). Every call is appended
to `calls.jsonl`. Personal data given to the claim check goes to `personal/<order id>.json`.
"""

import json
import os
import threading
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from adapters.factory import root
from domain.failures import PermanentFailure, TransientFailure


class StubClaims:
    """Stands in for the claim check: no private container needed, and tests can look."""

    def put(self, order_id: str, data: dict) -> str:
        folder = Path(os.environ["ORDER_STUBS_DIR"]) / "personal"
        folder.mkdir(exist_ok=True)
        (folder / f"{order_id}.json").write_text(json.dumps(data))
        return f"claim-{order_id}"


# The starters ask the composition root for the claim check: this one instead.
root.claims = StubClaims  # type: ignore[method-assign]

from orchestrators.order_workflow import bp as order_workflow  # noqa: E402
from triggers.order_approval_http import bp as order_approval  # noqa: E402
from triggers.orders_http import bp as orders_http  # noqa: E402
from triggers.orders_servicebus import bp as orders_queue  # noqa: E402
from triggers.orders_servicebus import express_bp as express_orders_queue  # noqa: E402

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(order_workflow)
# Two roles, as the app's: the express app runs only the express queue's orders, in its hub.
if os.environ.get("APP_ROLE") == "express":
    app.register_functions(express_orders_queue)
else:
    app.register_functions(orders_http)
    app.register_functions(order_approval)
    app.register_functions(orders_queue)

_lock = threading.Lock()


def _order_id(payload: dict) -> str:
    return payload["order_id"] if "order_id" in payload else payload["order"]["order_id"]


def _call(activity: str, payload: dict) -> dict:
    """Journal the call, then fail as the script says for this call of this activity."""
    folder = Path(os.environ["ORDER_STUBS_DIR"])
    order_id = _order_id(payload)
    script_file = folder / "script.json"
    script = json.loads(script_file.read_text()) if script_file.exists() else {}
    plan = script.get(order_id, {})
    journal = folder / "calls.jsonl"
    with _lock:
        earlier = journal.read_text().splitlines() if journal.exists() else []
        calls = [json.loads(line) for line in earlier]
        number = sum(1 for c in calls if c["order_id"] == order_id and c["activity"] == activity)
        with journal.open("a", encoding="utf-8") as handle:
            entry = {"activity": activity, "order_id": order_id, "payload": payload}
            handle.write(json.dumps(entry) + "\n")
    outcomes = plan.get(activity, [])
    outcome = outcomes[number] if number < len(outcomes) else "ok"
    if outcome.startswith("sleep:"):
        time.sleep(float(outcome.removeprefix("sleep:")))
    if outcome.startswith("wait:"):
        release, deadline = folder / outcome.removeprefix("wait:"), time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    if outcome == "transient":
        raise TransientFailure(f"{activity} busy")
    if outcome.startswith("permanent:"):
        raise PermanentFailure(outcome.removeprefix("permanent:"))
    return plan


@app.activity_trigger(input_name="payload")
def record_order(payload: dict) -> dict:
    plan = _call("record_order", payload)
    return {"status": plan.get("record_status", "Received")}


@app.activity_trigger(input_name="payload")
def reserve_stock(payload: dict) -> dict:
    _call("reserve_stock", payload)
    return {"reserved": True}


@app.activity_trigger(input_name="payload")
def release_stock(payload: dict) -> dict:
    _call("release_stock", payload)
    return {"released": True}


@app.activity_trigger(input_name="payload")
def take_payment(payload: dict) -> dict:
    _call("take_payment", payload)
    return {"payment_id": f"pay-{payload['order_id']}"}


@app.activity_trigger(input_name="payload")
def refund_payment(payload: dict) -> dict:
    _call("refund_payment", payload)
    return {"refund_id": f"refund-{payload['order_id']}"}


@app.activity_trigger(input_name="payload")
def ship_order(payload: dict) -> dict:
    _call("ship_order", payload)
    return {"tracking_id": f"track-{payload['order_id']}"}


@app.activity_trigger(input_name="payload")
def send_confirmation(payload: dict) -> dict:
    _call("send_confirmation", payload)
    return {"sent": True}


@app.activity_trigger(input_name="payload")
def send_notification(payload: dict) -> dict:
    _call("send_notification", payload)
    return {"sent": True}


@app.activity_trigger(input_name="payload")
def request_approval(payload: dict) -> dict:
    _call("request_approval", payload)
    return {"approvers": ["approver-1"]}


@app.activity_trigger(input_name="payload")
def set_order_status(payload: dict) -> dict:
    _call("set_order_status", payload)
    return {"status": payload["status"]}


def _journal(name: str, payload: dict) -> None:
    folder = Path(os.environ["ORDER_STUBS_DIR"])
    with _lock, (folder / name).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(payload) + "\n")


@app.activity_trigger(input_name="payload")
def publish_job_update(payload: dict) -> dict:
    """Journalled apart from the steps (published.jsonl), so step sequences stay comparable."""
    _journal("published.jsonl", payload)
    order_id = payload["update"]["job_id"].removeprefix("order-")
    script_file = Path(os.environ["ORDER_STUBS_DIR"]) / "script.json"
    script = json.loads(script_file.read_text()) if script_file.exists() else {}
    if script.get(order_id, {}).get("publish_fails"):
        raise PermanentFailure("cannot send to order-events: MessagingEntityNotFoundError")
    return {"sequence": payload["update"]["sequence"]}


@app.activity_trigger(input_name="payload")
def deliver_webhook(payload: dict) -> dict:
    _journal("webhooks.jsonl", payload)
    return {"delivered": True, "status": 204}
