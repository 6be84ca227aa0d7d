"""activities.orders: every order step is a Durable activity under its own name."""

from __future__ import annotations

import json

import azure.durable_functions as df

from activities import orders


def test_each_step_is_an_activity_with_a_payload_input() -> None:
    app = df.DFApp()
    app.register_functions(orders.bp)

    functions = {
        fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]
        for fn in app.get_functions()
    }

    assert set(functions) == {
        "record_order",
        "reserve_stock",
        "release_stock",
        "take_payment",
        "refund_payment",
        "ship_order",
        "send_confirmation",
        "send_notification",
        "request_approval",
        "set_order_status",
    }
    for name, bindings in functions.items():
        assert callable(getattr(orders, name))  # the step itself, for tests
        assert bindings == [{"type": "activityTrigger", "direction": "IN", "name": "payload"}]
