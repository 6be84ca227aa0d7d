"""The supervisor timer (triggers/supervisor_timer.py) lists, decides and acts in one run.

A hand-written durable client holds instances and records what is done to them; it has no
`start_new`, so a run that started an orchestration would fail here.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

import app_config
from triggers import supervisor_timer

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def _instance(
    instance_id: str, name: str, status: str, age: timedelta, step: str | None = None
) -> DurableOrchestrationStatus:
    return DurableOrchestrationStatus(
        name=name,
        instanceId=instance_id,
        createdTime=(NOW - age).isoformat(),
        lastUpdatedTime=(NOW - age / 2).isoformat(),
        runtimeStatus=status,
        customStatus={"step": step} if step else None,
    )


class FakeClient:
    """The durable client's listing and the three actions, over a fixed set of instances."""

    def __init__(self, instances: list[DurableOrchestrationStatus]) -> None:
        self.instances = instances
        self.done: list[tuple[str, ...]] = []
        self.listed: list[str] = []

    async def get_status_by(self, runtime_status: list[Any]) -> list[DurableOrchestrationStatus]:
        self.listed = [status.value for status in runtime_status]
        return [i for i in self.instances if i.runtime_status.value in self.listed]

    async def raise_event(self, instance_id: str, event: str, data: dict[str, Any]) -> None:
        self.done.append(("event", instance_id, event, data["reason"]))

    async def terminate(self, instance_id: str, reason: str) -> None:
        self.done.append(("terminate", instance_id, reason))

    async def rewind(self, instance_id: str, reason: str) -> None:
        self.done.append(("rewind", instance_id, reason))


@pytest.fixture(autouse=True)
def one_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake stands for one task hub; test_task_hubs covers reaching the express hub."""
    monkeypatch.setattr(supervisor_timer, "every_hub", lambda client: [client])


SETTINGS = app_config.supervisor_settings(
    {
        "SUPERVISOR_EXPECTED_DURATIONS": "nightly_report=PT3H",
        "SUPERVISOR_TERMINATE_AFTER": "nightly_report=PT1H",
        "SUPERVISOR_REWIND": "make_thumbnails",
    }
)


def test_one_run_lists_decides_at_its_clock_and_acts_oldest_first() -> None:
    client = FakeClient(
        [
            _instance("order-stuck", "process_order", "Running", timedelta(days=5), "reserving"),
            _instance("order-fine", "process_order", "Running", timedelta(days=1), "reserving"),
            _instance("order-shipping", "process_order", "Running", timedelta(days=6), "shipping"),
            _instance("nightly-report-x", "nightly_report", "Running", timedelta(hours=5)),
            _instance("thumbs-1", "make_thumbnails", "Failed", timedelta(minutes=10)),
            _instance("job-supervisor", "supervise_jobs", "Pending", timedelta(days=9)),
        ]
    )

    outcomes = asyncio.run(supervisor_timer.supervise(client, SETTINGS, lambda: NOW))  # type: ignore[arg-type]

    assert outcomes == ["reported", "cancel requested", "terminated", "rewound"]
    assert client.done == [
        (
            "event",
            "order-stuck",
            "CancelOrder",
            "supervisor: process_order running for 5 days, 0:00:00 (limit 4 days, 0:00:00)",
        ),
        (
            "terminate",
            "nightly-report-x",
            "supervisor: nightly_report running for 5:00:00 (limit 3:00:00)",
        ),
        ("rewind", "thumbs-1", "supervisor: make_thumbnails failed for 0:05:00 (limit 1:00:00)"),
    ]
    assert client.listed == ["Running", "Pending", "Failed"]


def test_each_task_hub_is_supervised_with_its_own_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    main = FakeClient(
        [_instance("nightly-report-x", "nightly_report", "Running", timedelta(hours=5))]
    )
    express = FakeClient(
        [_instance("order-fast", "process_order", "Running", timedelta(days=5), "reserving")]
    )
    monkeypatch.setattr(supervisor_timer, "every_hub", lambda client: [client, express])

    outcomes = asyncio.run(supervisor_timer.supervise(main, SETTINGS, lambda: NOW))  # type: ignore[arg-type]

    assert outcomes == ["terminated", "cancel requested"]
    assert [done[:2] for done in main.done] == [("terminate", "nightly-report-x")]
    assert [done[:2] for done in express.done] == [("event", "order-fast")]


def test_failed_instances_are_listed_only_when_an_orchestrator_opted_into_rewinds() -> None:
    client = FakeClient([_instance("old", "retention", "Running", timedelta(days=2))])
    settings = app_config.supervisor_settings({})

    outcomes = asyncio.run(supervisor_timer.supervise(client, settings, lambda: NOW))  # type: ignore[arg-type]

    assert outcomes == ["reported"]  # over the 24-hour default, and no cancel event to send
    assert client.done == []
    assert client.listed == ["Running", "Pending"]


def test_orders_take_the_cancel_event_except_where_it_is_not_allowed() -> None:
    policy = supervisor_timer.supervision_policy(SETTINGS)
    order = policy.rule_for("process_order")
    assert order.cancel_event == "CancelOrder"
    assert order.expected_seconds == 4 * 86400  # past the 72-hour approval wait
    assert {"shipping", "confirming"} <= order.not_cancellable_steps
    assert policy.rule_for("nightly_report").cancel_event is None
    assert policy.exempt == frozenset({supervisor_timer.INSTANCE_ID})


def test_the_kept_report_activity_still_logs_and_counts_each_finding() -> None:
    """`report_supervision` stays for `supervise_jobs` instances an earlier version started."""
    from activities.supervision import report_supervision
    from domain.failures import PermanentFailure
    from domain.supervision import SupervisionReport, plan

    policy = supervisor_timer.supervision_policy(SETTINGS)
    stuck = supervisor_timer.snapshot(
        _instance("order-stuck", "process_order", "Running", timedelta(days=5), "reserving")
    )
    assert stuck is not None
    decisions = tuple(plan([stuck], policy, NOW))
    recorded: list[tuple[str, ...]] = []

    result = report_supervision(
        SupervisionReport(decisions=decisions).dump(), lambda *row: recorded.append(row)
    )

    assert result == {"reported": 1}
    assert recorded == [("process_order", "overdue", "cancel", "found")]
    with pytest.raises(PermanentFailure, match="invalid report_supervision input"):
        report_supervision({"decisions": "none"}, lambda *row: None)
