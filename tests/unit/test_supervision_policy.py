"""The supervisor's policy (domain/supervision.py): which jobs are stuck and what is done."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

import app_config
from domain.payload import InvalidPayload, read
from domain.supervision import (
    Action,
    Decision,
    Finding,
    JobRule,
    JobSnapshot,
    SupervisionPolicy,
    SupervisionReport,
    SupervisorResult,
    SupervisorRun,
    decide,
    parse_duration,
    parse_durations,
    plan,
)

HISTORIES = Path(__file__).resolve().parent.parent / "histories" / "supervise_jobs"
NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
ORDER = JobRule(
    orchestrator="process_order",
    expected_seconds=timedelta(days=4).total_seconds(),
    cancel_event="CancelOrder",
    not_cancellable_steps=frozenset({"shipping", "confirming"}),
)
REPORT = JobRule(
    orchestrator="nightly_report",
    expected_seconds=3 * 3600,
    terminate_after_seconds=3600,
    rewind_failed=True,
)
POLICY = SupervisionPolicy(
    rules=(ORDER, REPORT),
    default_expected_seconds=24 * 3600,
    max_pending_seconds=30 * 60,
    rewind_window_seconds=3600,
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
    return JobSnapshot(
        instance_id=instance_id,
        orchestrator=name,
        runtime_status=status,
        created_at=NOW - age,
        last_updated_at=NOW - updated,
        step=step,
    )


def test_a_healthy_running_job_is_left_alone() -> None:
    assert decide(job(age=timedelta(days=3)), POLICY, NOW) is None


def test_an_overdue_order_gets_its_cancel_event() -> None:
    decision = decide(job(), POLICY, NOW)
    assert decision is not None
    assert (decision.finding, decision.action) == (Finding.OVERDUE, Action.CANCEL)
    assert decision.cancel_event == "CancelOrder"
    assert decision.limit_seconds == timedelta(days=4).total_seconds()
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
    assert (decision.action, decision.limit_seconds) == (Action.REPORT, 24 * 3600)


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
    assert read(SupervisionPolicy, json.loads(json.dumps(POLICY.dump()))) == POLICY
    decision = decide(job(), POLICY, NOW)
    assert decision is not None
    assert read(Decision, json.loads(json.dumps(decision.dump()))) == decision
    run = SupervisorRun(policy=POLICY, jobs=(job(), job(step=None, instance_id="order-2")))
    assert read(SupervisorRun, json.loads(json.dumps(run.dump()))) == run


def test_payloads_are_written_as_the_hand_written_ones_were() -> None:
    """Absent values as null, durations as float seconds, sets sorted: the report activity's
    input is compared byte for byte when recorded histories replay."""
    decision = decide(job(step=None, status="Pending", age=timedelta(hours=1)), POLICY, NOW)
    assert decision is not None
    assert decision.dump() == {
        "job": {
            "instance_id": "order-1",
            "orchestrator": "process_order",
            "runtime_status": "Pending",
            "created_at": "2030-01-10T11:00:00+00:00",
            "last_updated_at": "2030-01-10T11:59:00+00:00",
            "step": None,
        },
        "finding": "stuck_pending",
        "action": "cancel",
        "age_seconds": 3600.0,
        "limit_seconds": 1800.0,
        "cancel_event": "CancelOrder",
    }
    assert REPORT.dump() == {
        "orchestrator": "nightly_report",
        "expected_seconds": 10800.0,
        "cancel_event": None,
        "not_cancellable_steps": [],
        "terminate_after_seconds": 3600.0,
        "rewind_failed": True,
    }
    assert ORDER.dump()["not_cancellable_steps"] == ["confirming", "shipping"]


def test_recorded_inputs_and_outputs_read_and_dump_as_they_were_written() -> None:
    """The supervisor's input and output in tests/histories are what the models write."""
    for path in sorted(HISTORIES.glob("*.json")):
        recorded = json.loads(path.read_text())
        run = read(SupervisorRun, json.loads(recorded["input"]))
        assert json.dumps(run.dump()) == recorded["input"], path.name
        result = read(SupervisorResult, recorded["output"])
        assert result.dump() == recorded["output"], path.name
        assert result.checked == len(run.jobs)
        scheduled = [e for e in recorded["history"] if e.get("Name") == "report_supervision"]
        for event in scheduled:
            report = read(SupervisionReport, json.loads(event["Input"]))
            assert json.dumps(report.dump()) == event["Input"], path.name


def test_an_older_shape_still_reads() -> None:
    """An input written before some fields existed (no exempt, no limits but the required
    ones, a rule without its optional keys) and with a field added later still reads."""
    old = {
        "policy": {
            "rules": [{"orchestrator": "process_order", "expected_seconds": 60, "later": 1}],
            "default_expected_seconds": 86400.0,
            "added_later": True,
        },
        "jobs": [
            {
                "instance_id": "order-1",
                "orchestrator": "process_order",
                "runtime_status": "Running",
                "created_at": "2030-01-10T11:00:00+00:00",
                "last_updated_at": "2030-01-10T11:00:00+00:00",
                "priority": "high",
            }
        ],
    }
    run = read(SupervisorRun, old)
    rule = run.policy.rule_for("process_order")
    assert rule.expected_seconds == 60 and rule.cancel_event is None
    assert run.policy.max_pending_seconds == 30 * 60
    assert run.policy.exempt == frozenset()
    assert run.jobs[0].step is None
    [decision] = plan(run.jobs, run.policy, NOW)
    assert decision.action is Action.REPORT


def test_an_unreadable_input_names_the_field_and_quotes_nothing() -> None:
    bad = {"policy": {"rules": [{"orchestrator": "", "expected_seconds": -1}]}, "jobs": [{}]}
    with pytest.raises(InvalidPayload) as raised:
        read(SupervisorRun, bad)
    paths = [problem.split(":", 1)[0] for problem in raised.value.problems]
    assert paths[:2] == ["policy.rules[0].orchestrator", "policy.rules[0].expected_seconds"]
    assert "jobs[0].instance_id" in paths


def test_snapshot_times_are_utc_so_ages_can_always_be_measured() -> None:
    naive = JobSnapshot(
        instance_id="x",
        orchestrator="y",
        runtime_status="Running",
        created_at=datetime(2030, 1, 1),
        last_updated_at=NOW,
    )
    assert naive.created_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert decide(naive, POLICY, NOW) is not None


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValidationError, match="expected_seconds"):
        JobRule(orchestrator="x", expected_seconds=0)
    with pytest.raises(ValidationError, match="orchestrator"):
        JobRule(orchestrator="", expected_seconds=1)
    with pytest.raises(ValidationError, match="terminate_after_seconds"):
        JobRule(orchestrator="x", expected_seconds=1, terminate_after_seconds=-1)
    with pytest.raises(ValidationError, match="max_pending_seconds"):
        SupervisionPolicy(max_pending_seconds=0)
    with pytest.raises(ValidationError, match="rules: each orchestrator at most once"):
        SupervisionPolicy(rules=(ORDER, ORDER))


def test_durations_are_parsed_per_orchestrator() -> None:
    env = {"SUPERVISOR_EXPECTED_DURATIONS": "process_order=P4D; nightly_report=PT3H,x=PT1.5S"}
    assert app_config.supervisor_settings(env).expected_seconds == {
        "process_order": timedelta(days=4).total_seconds(),
        "nightly_report": timedelta(hours=3).total_seconds(),
        "x": 1.5,
    }
    assert parse_durations(["process_order=P4D"], "S") == {"process_order": timedelta(days=4)}
    assert parse_durations([], "S") == {}
    assert parse_duration("p1dt2h", "S") == timedelta(days=1, hours=2)


@pytest.mark.parametrize("text", ["P1Y", "P2M", "PT", "P", "P1DT", "4 days", "PT0S", "-PT1H"])
def test_bad_durations_name_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="SETTING"):
        parse_duration(text, "SETTING")


@pytest.mark.parametrize("text", ["process_order", "=P1D", "process_order=", "a=P1D;b"])
def test_bad_duration_lists_name_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="SUPERVISOR_TERMINATE_AFTER"):
        app_config.supervisor_settings({"SUPERVISOR_TERMINATE_AFTER": text})
