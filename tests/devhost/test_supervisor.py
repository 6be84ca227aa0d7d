"""The supervisor on devhost: a stuck order is cancelled past its threshold, a failed job rewound.

The app (tests/apps/supervised_orders) is the order stubs app plus the supervisor's timer, which
runs every two seconds here and measures ages on the wall clock, as in Azure. An order's
`reserve_stock` is scripted to hang for a while; a run finds the order running past its
3-second limit and raises `CancelOrder`; when the step returns, the order's own compensation
runs and it ends Cancelled with the supervisor's reason. A job opted into rewinds
(`SUPERVISOR_REWIND`) that failed on an outage is rewound by the next run and completes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess, wait_until
from domain.fulfilment import ApprovalPolicy, WorkflowInput
from domain.orders import Order, OrderLine, instance_id_for

APP = Path(__file__).resolve().parent.parent / "apps" / "supervised_orders"
HANG_SECONDS = 12
POLICY = ApprovalPolicy(
    threshold_cents=100_000, escalate_after_seconds=86_400, timeout_seconds=259_200
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[DevHostProcess]:
    state = tmp_path_factory.mktemp("supervisor")
    env = {
        "ORDER_STUBS_DIR": str(state),
        "AzureWebJobsStorage": azurite.connection_string,
        "SUPERVISOR_SCHEDULE": "*/2 * * * * *",
        "SUPERVISOR_EXPECTED_DURATIONS": "process_order=PT3S",
        "SUPERVISOR_REWIND": "flaky_job",
    }
    with DevHostProcess(APP, state_dir=state, env=env) as running:
        yield running


def _script(folder: Path, order_id: str, plan: dict[str, Any]) -> None:
    path = folder / "script.json"
    script = json.loads(path.read_text()) if path.exists() else {}
    script[order_id] = plan
    path.write_text(json.dumps(script))


def _calls(folder: Path, order_id: str) -> list[str]:
    path = folder / "calls.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [r["activity"] for r in rows if r["order_id"] == order_id]


def test_a_stuck_order_is_cancelled_after_its_threshold(host: DevHostProcess) -> None:
    line = OrderLine(sku="SKU-1", quantity=1, unit_price_cents=2_500)
    order = Order(
        order_id=f"o-{uuid.uuid4().hex[:12]}", customer_ref="ref-1", currency="EUR", lines=(line,)
    )
    _script(host.state_dir, order.order_id, {"reserve_stock": [f"sleep:{HANG_SECONDS}"]})
    run = WorkflowInput(
        order=order,
        received_at="2030-01-01T00:00:00+00:00",
        approval=POLICY,
        correlation_id="corr-stuck",
    )
    instance_id = host.start_orchestration(
        "process_order", run.dump(), instance_id_for(order.order_id)
    )

    # The supervisor decides and acts in its timer: no orchestration of its own is started.
    cancelled = f"Supervisor: process_order {instance_id} cancel requested (supervisor: "
    wait_until(lambda: cancelled in host.logs())
    assert "step reserving_stock)" in host.logs().split(cancelled, 1)[1].splitlines()[0]
    assert host.status("job-supervisor") is None

    final = host.wait_for(instance_id, timeout=HANG_SECONDS + 60)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"]["status"] == "Cancelled"
    assert final["output"]["reason"].startswith("supervisor: process_order running for")
    # The order's own compensation ran: the stock it reserved went back.
    assert "release_stock" in _calls(host.state_dir, order.order_id)
    assert "Heartbeat: scheduled job supervisor ran" in host.logs()


def test_a_recently_failed_job_opted_into_rewinds_is_rewound_and_completes(
    host: DevHostProcess,
) -> None:
    marker = f"flaky-{uuid.uuid4().hex[:12]}"
    instance_id = host.start_orchestration("flaky_job", marker, marker)

    done = host.wait_for(instance_id, frozenset({"Completed"}), timeout=60, history=True)
    assert done["output"] == f"done {marker}"
    # It failed on the outage first; the rewind re-ran the failed step in the same instance.
    assert (host.state_dir / f"{marker}.failed-once").exists()
    steps = [e for e in done["historyEvents"] if e.get("FunctionName") == "flaky_step"]
    assert [e["EventType"] for e in steps] == ["TaskCompleted"]
    assert f"Supervisor: flaky_job {instance_id} rewound" in host.logs()
