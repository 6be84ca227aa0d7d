"""The order workflow's Durable activities: thin wrappers that hand each step its adapters.

Activity names are the function names: record_order, reserve_stock, release_stock,
take_payment, refund_payment, ship_order, send_confirmation, send_notification and
set_order_status. Inputs and results are JSON objects described in domain/order_payloads.py;
the logic lives in activities/order_steps.py, where tests call it directly.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from activities import order_steps
from adapters.errors import storage_errors
from adapters.factory import OrderAdapters, order_adapters

bp = func.Blueprint()


def _adapters(activity: str) -> OrderAdapters:
    # Built on first use; storage being unreachable then is as transient as any other time.
    with storage_errors(activity):
        return order_adapters()


@bp.activity_trigger(input_name="payload")
def record_order(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.record_order(payload, _adapters("record_order"))


@bp.activity_trigger(input_name="payload")
def reserve_stock(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.reserve_stock(payload, _adapters("reserve_stock"))


@bp.activity_trigger(input_name="payload")
def release_stock(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.release_stock(payload, _adapters("release_stock"))


@bp.activity_trigger(input_name="payload")
def take_payment(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.take_payment(payload, _adapters("take_payment"))


@bp.activity_trigger(input_name="payload")
def refund_payment(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.refund_payment(payload, _adapters("refund_payment"))


@bp.activity_trigger(input_name="payload")
def ship_order(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.ship_order(payload, _adapters("ship_order"))


@bp.activity_trigger(input_name="payload")
def send_confirmation(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.send_confirmation(payload, _adapters("send_confirmation"))


@bp.activity_trigger(input_name="payload")
def send_notification(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.send_notification(payload, _adapters("send_notification"))


@bp.activity_trigger(input_name="payload")
def set_order_status(payload: dict[str, Any]) -> dict[str, Any]:
    return order_steps.set_order_status(payload, _adapters("set_order_status"))
