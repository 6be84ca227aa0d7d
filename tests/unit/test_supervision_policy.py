"""The supervisor's policy (domain/supervision.py): which jobs are stuck and what is done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.supervision import (
    Action,
    Decision,
    Finding,
    JobRule,
    JobSnapshot,
    SupervisionError,
    SupervisionPolicy,
    decide,
    parse_duration,
    parse_durations,
    plan,
)

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
ORDER = JobRule(
    "process_order",
    timedelta(days=4),
    cancel_event="CancelOrder",
    not_cancellable_steps=frozenset({"shipping", "confirming"}),
)
REPORT = JobRule(
    "nightly_report",
    timedelta(hours=3),
    terminate_after=timedelta(hours=1),
    rewind_failed=True,
)
POLICY = SupervisionPolicy(
    rules={r.orchestrator: r for r in (ORDER, REPORT)},
    default_expected=timedelta(hours=24),
    max_pending=timedelta(minutes=30),
    rewind_window=timedelta(hours=1),
    exempt=frozenset({"job-supervisor"}),
)


def job(
    name: str = "process_order",
    status: str = "Running",
    age: timedelta = timedelta(days=5),
    *,
    updated: timedelta = timedelta(minutes=1),
    step: str | None = "taking_payment",
    instance_id: str = "order-1",
) -> JobSnapshot:
    return JobSnapshot(instance_id, name, status, NOW - age, NOW - updated, step)


def test_a_healthy_running_job_is_left_alone() -> None:
    assert decide(job(age=timedelta(days=3)), POLICY, NOW) is None


def test_an_overdue_order_gets_its_cancel_event() -> None:
    decision = decide(job(), POLICY, NOW)
    assert decision is not None
    assert (decision.finding, decision.action) == (Finding.OVERDUE, Action.CANCEL)
    assert decision.cancel_event == "CancelOrder"
    assert decision.limit == timedelta(days=4)
    assert (
        decision.reason
        == "supervisor: process_order running for 5 days, 0:00:00 (limit 4 days, 0:00:00)"
    )


def test_an_overdue_order_that_is_shipping_is_only_reported() -> None:
    decision = decide(job(step="shipping"), POLICY, NOW)
    assert decision is not None and decision.action is Action.REPORT


def test_a_job_without_cancel_or_terminate_is_only_reported() -> None:
    decision = decide(job("thumbnails", age=timedelta(hours=25)), POLICY, NOW)
    assert decision is not None
    assert (decision.action, decision.limit) == (Action.REPORT, timedelta(hours=24))


def test_terminate_only_past_the_grace_on_top_of_the_expected_duration() -> None:
    within_grace = decide(job("nightly_report", age=timedelta(hours=3, minutes=30)), POLICY, NOW)
    assert within_grace is not None and within_grace.action is Action.REPORT
    past_grace = decide(job("nightly_report", age=timedelta(hours=4, minutes=1)), POLICY, NOW)
    assert past_grace is not None and past_grace.action is Action.TERMINATE


def test_a_job_stuck_in_pending_is_measured_against_the_pending_limit() -> None:
    fresh = job(status="Pending", age=timedelta(minutes=20), step=None)
    assert decide(fresh, POLICY, NOW) is None
    stuck = decide(job(status="Pending", age=timedelta(minutes=31), step=None), POLICY, NOW)
    assert stuck is not None
    # A pending order has taken no step yet: the cancel event waits for it and undoes nothing.
    assert (stuck.finding, stuck.action) == (Finding.STUCK_PENDING, Action.CANCEL)


def test_rewind_only_for_recent_failures_of_opted_in_orchestrators() -> None:
    recent = decide(job("nightly_report", "Failed", updated=timedelta(minutes=10)), POLICY, NOW)
    assert recent is not None and recent.action is Action.REWIND
    old = job("nightly_report", "Failed", updated=timedelta(hours=2))
    assert decide(old, POLICY, NOW) is None
    assert decide(job("process_order", "Failed"), POLICY, NOW) is None


@pytest.mark.parametrize("status", ["Completed", "Terminated", "Canceled", "ContinuedAsNew"])
def test_finished_instances_are_never_touched(status: str) -> None:
    assert decide(job(status=status, age=timedelta(days=30)), POLICY, NOW) is None


def test_the_supervisor_never_supervises_itself() -> None:
    own = job("supervise_jobs", age=timedelta(days=30), instance_id="job-supervisor")
    assert decide(own, POLICY, NOW) is None


def test_plan_orders_the_oldest_first_and_skips_healthy_jobs() -> None:
    jobs = [
        job(instance_id="order-a", age=timedelta(days=5)),
        job(instance_id="order-b", age=timedelta(days=1)),
        job(instance_id="order-c", age=timedelta(days=9)),
    ]
    assert [d.job.instance_id for d in plan(jobs, POLICY, NOW)] == ["order-c", "order-a"]


def test_policy_decision_and_snapshot_survive_a_json_round_trip() -> None:
    assert SupervisionPolicy.from_dict(POLICY.to_dict()) == POLICY
    decision = decide(job(), POLICY, NOW)
    assert decision is not None
    assert Decision.from_dict(decision.to_dict()) == decision


def test_shortest_limit_bounds_the_listing() -> None:
    assert POLICY.shortest_limit == timedelta(minutes=30)


def test_snapshots_need_aware_times() -> None:
    with pytest.raises(SupervisionError, match="time zone"):
        JobSnapshot("x", "y", "Running", datetime(2030, 1, 1), NOW)


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(SupervisionError, match="expected duration"):
        JobRule("x", timedelta(0))
    with pytest.raises(SupervisionError, match="max_pending"):
        SupervisionPolicy(max_pending=timedelta(0))


def test_durations_are_parsed_per_orchestrator() -> None:
    parsed = parse_durations("process_order=P4D; nightly_report=PT3H,x=PT1.5S", "S")
    assert parsed == {
        "process_order": timedelta(days=4),
        "nightly_report": timedelta(hours=3),
        "x": timedelta(seconds=1.5),
    }
    assert parse_durations("  ", "S") == {}
    assert parse_duration("p1dt2h", "S") == timedelta(days=1, hours=2)


@pytest.mark.parametrize("text", ["P1Y", "P2M", "PT", "P", "P1DT", "4 days", "PT0S", "-PT1H"])
def test_bad_durations_name_the_setting(text: str) -> None:
    with pytest.raises(SupervisionError, match="SETTING"):
        parse_duration(text, "SETTING")


@pytest.mark.parametrize("text", ["process_order", "=P1D", "process_order=", "a=P1D;b"])
def test_bad_duration_lists_name_the_setting(text: str) -> None:
    with pytest.raises(SupervisionError, match="SETTING"):
        parse_durations(text, "SETTING")
