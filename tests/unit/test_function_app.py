"""Indexes function_app the way the Python worker does and checks what the host would see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Indexing runs in a child interpreter: get_functions() builds each function once per app
# object, and a fresh process also proves that importing function_app has no hidden setup.
_INDEX_SCRIPT = """
import json
import function_app
print(json.dumps({
    fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]
    for fn in function_app.app.get_functions()
}))
"""


def index_app(
    project_root: Path, env: dict[str, str] | None = None
) -> dict[str, list[dict[str, object]]]:
    completed = subprocess.run(
        [sys.executable, "-c", _INDEX_SCRIPT],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def trigger_of(bindings: list[dict[str, object]]) -> dict[str, object]:
    return next(b for b in bindings if str(b["type"]).endswith("Trigger"))


def test_health_probe_is_an_anonymous_get_on_api_health(project_root: Path) -> None:
    functions = index_app(project_root)

    trigger = functions["health"][0]
    assert trigger["type"] == "httpTrigger"
    assert trigger["route"] == "health"
    assert trigger["methods"] == ["GET"]
    assert trigger["authLevel"] == "ANONYMOUS"


def test_host_json_routes_under_api(project_root: Path) -> None:
    host = json.loads((project_root / "host.json").read_text())

    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == "api"
    # Each app's own hub from a setting (Learn, "Task hubs in Durable Functions": a %setting%
    # in host.json). Locally the main app keeps the hub its instances have always lived in.
    assert host["extensions"]["durableTask"]["hubName"] == "%TASK_HUB_NAME%"
    example = json.loads((project_root / "local.settings.json.example").read_text())["Values"]
    assert (example["TASK_HUB_NAME"], example["EXPRESS_TASK_HUB_NAME"]) == (
        "JobsHub",
        "JobsExpress",
    )


def test_order_endpoints_need_a_function_key(project_root: Path) -> None:
    functions = index_app(project_root)

    start, status = trigger_of(functions["orders_start"]), trigger_of(functions["orders_status"])
    assert (start["route"], start["methods"], start["authLevel"]) == (
        "orders",
        ["POST"],
        "FUNCTION",
    )
    assert (status["route"], status["methods"], status["authLevel"]) == (
        "orders/{order_id}",
        ["GET"],
        "FUNCTION",
    )


def test_the_orders_queue_starts_the_order_workflow(project_root: Path) -> None:
    functions = index_app(project_root)

    trigger = trigger_of(functions["orders_from_queue"])
    assert trigger["type"] == "serviceBusTrigger"
    assert (trigger["queueName"], trigger["connection"]) == ("orders", "ServiceBusConnection")
    assert trigger_of(functions["process_order"])["type"] == "orchestrationTrigger"
    declared = json.loads((project_root / "infra" / "servicebus.json").read_text())
    assert "orders" in {queue["name"] for queue in declared["queues"]}


SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "functions.json"


def test_every_function_name_and_binding_is_the_snapshot(project_root: Path) -> None:
    """In the v2 model an activity's, orchestrator's or entity's name is its registered function
    name, and instances in flight hold those names: moving code between modules must not
    rename one or change a binding. A deliberate change updates tests/snapshots/functions.json
    (and says why in its commit). The snapshot holds what the package registers in either role."""
    registered = {**index_app(project_root), **index_app(project_root, {"APP_ROLE": "express"})}
    functions = {
        name: sorted(bindings, key=lambda b: str(b["name"]))
        for name, bindings in registered.items()
    }
    assert functions == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


# What runs an express order and nothing that must run once per system (timers, the blob
# trigger, the HTTP API): the express role's exact set.
EXPRESS_TRIGGER = "orders_express_from_queue"
EXPRESS_ROLE = {
    "orders_express_from_queue",
    "process_order",
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
    "publish_job_update",
    "deliver_webhook",
}


def test_each_role_registers_exactly_its_functions(project_root: Path) -> None:
    main = index_app(project_root, {"APP_ROLE": "main"})
    express = index_app(project_root, {"APP_ROLE": "express"})
    assert set(express) == EXPRESS_ROLE
    # The express queue is the express app's alone; main runs everything else, and what runs an
    # order in both.
    assert set(main) == set(json.loads(SNAPSHOT.read_text(encoding="utf-8"))) - {EXPRESS_TRIGGER}
    assert set(main) & set(express) == EXPRESS_ROLE - {EXPRESS_TRIGGER}
    # The same bindings in both: one package, two apps.
    assert all(express[name] == main[name] for name in set(main) & set(express))


def test_an_unknown_role_stops_the_app(project_root: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        index_app(project_root, {"APP_ROLE": "backup"})
    assert "APP_ROLE must be one of main, express" in failed.value.stderr
