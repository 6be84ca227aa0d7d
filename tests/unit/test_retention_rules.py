"""Retention's rules: only terminal instances are purged, and what counts as old."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import app_config
from domain.payload import InvalidPayload, read
from domain.reports import ChunkingPolicy
from domain.retention import (
    PURGEABLE_STATUSES,
    ClaimsPage,
    DeleteClaimsInput,
    DeleteReportsInput,
    ReportsDeleted,
    RetentionPolicy,
    RetentionRun,
    RetentionSummary,
    claim_is_expired,
    cutoffs,
    report_is_expired,
)

HISTORIES = Path(__file__).resolve().parent.parent / "histories" / "retention"

AS_OF = datetime(2026, 11, 21, 3, 30, tzinfo=UTC)


def test_a_purge_names_only_statuses_that_never_run_again() -> None:
    assert PURGEABLE_STATUSES == ("Completed", "Failed", "Terminated")


def test_cutoffs_follow_the_policy() -> None:
    limits = cutoffs(AS_OF, RetentionPolicy(instance_days=30, report_days=90, claim_days=7))
    assert limits.instances_before == AS_OF - timedelta(days=30)
    assert limits.reports_before_day == "2026-08-23"
    assert limits.claims_before == AS_OF - timedelta(days=7)


def test_only_report_files_about_old_days_expire() -> None:
    assert report_is_expired("2026-08-22.json", "2026-08-23")
    assert report_is_expired("2026-08-22.csv", "2026-08-23")
    assert not report_is_expired("2026-08-23.json", "2026-08-23")
    assert not report_is_expired("notes.txt", "2026-08-23")
    assert not report_is_expired("2020-01-01.json.bak", "2026-08-23")


def test_claims_go_when_old_and_their_order_is_over_or_unknown() -> None:
    before = AS_OF - timedelta(days=30)
    old, new = before - timedelta(seconds=1), before
    assert claim_is_expired(old, before, "Completed")
    assert claim_is_expired(old, before, None)
    assert not claim_is_expired(old, before, "AwaitingApproval")
    assert not claim_is_expired(new, before, "Completed")


@pytest.mark.parametrize("days", [0, -1, 1.5, True, "7"])
def test_policy_ages_are_whole_positive_days(days: object) -> None:
    with pytest.raises(ValueError, match="instance_days"):
        RetentionPolicy(instance_days=days)  # type: ignore[arg-type]
    assert RetentionPolicy(instance_days=7.0).instance_days == 7  # type: ignore[arg-type]


def test_the_run_input_round_trips_and_needs_a_time() -> None:
    run = RetentionRun(
        as_of=AS_OF,
        policy=RetentionPolicy(instance_days=1, report_days=2, claim_days=3),
        claims_token="tok",
        claims_deleted=5,
        pages=2,
        purged=7,
        reports_deleted=1,
    )
    assert read(RetentionRun, json.loads(json.dumps(run.dump()))) == run
    assert run.as_of == AS_OF
    for bad in ({"as_of": "not a time"}, {}, None):
        with pytest.raises(InvalidPayload) as raised:
            read(RetentionRun, bad)
        assert "not a time" not in str(raised.value)
        assert raised.value.problems[0].startswith(("as_of: ", "Input should be"))


def test_payloads_are_written_as_the_hand_written_ones_were() -> None:
    """Nulls kept, the +00:00 form, the same key order: activity inputs are compared byte for
    byte when recorded histories replay."""
    run = RetentionRun(as_of=AS_OF, purged=3)
    assert json.dumps(run.dump()) == (
        '{"as_of": "2026-11-21T03:30:00+00:00", "policy": {"instance_days": 30, '
        '"report_days": 90, "claim_days": 30}, "claims_token": null, "claims_deleted": 0, '
        '"pages": 0, "purged": 3, "reports_deleted": null}'
    )
    limits = cutoffs(AS_OF, run.policy)
    assert json.dumps(DeleteClaimsInput(before=limits.claims_before).dump()) == (
        '{"before": "2026-10-22T03:30:00+00:00", "token": null}'
    )
    assert DeleteReportsInput(before_day="2026-08-23").dump() == {"before_day": "2026-08-23"}
    assert ClaimsPage(deleted=1, listed=2).dump() == {"deleted": 1, "listed": 2, "next_token": None}


def test_recorded_inputs_outputs_and_activity_payloads_read_and_dump_as_written() -> None:
    for path in sorted(HISTORIES.glob("*.json")):
        recorded = json.loads(path.read_text())
        run = read(RetentionRun, json.loads(recorded["input"]))
        assert json.dumps(run.dump()) == recorded["input"], path.name
        assert read(RetentionSummary, recorded["output"]).dump() == recorded["output"]
        for event in recorded["history"]:
            payload = event.get("Input") if event["EventType"] == 4 else event.get("Result")
            if payload is None or event["EventType"] not in (4, 5):
                continue
            model = {
                "delete_expired_reports": DeleteReportsInput,
                "delete_expired_claims": DeleteClaimsInput,
            }.get(event.get("Name", ""))
            if model is None:  # a result: of the reports (one count) or of a claims page
                model = ClaimsPage if "listed" in json.loads(payload) else ReportsDeleted
            assert json.dumps(read(model, json.loads(payload)).dump()) == payload, path.name


def test_an_older_shape_still_reads() -> None:
    """An input from before the counters and the policy travelled (as_of alone, with a naive
    time), plus a field a later version may add, reads with the defaults."""
    run = read(RetentionRun, {"as_of": "2026-11-21T03:30:00", "shard": 2})
    assert run.as_of == AS_OF
    assert run.policy == RetentionPolicy()
    assert (run.claims_token, run.claims_deleted, run.pages, run.purged) == (None, 0, 0, None)
    assert read(ClaimsPage, {"deleted": 1, "listed": 1}).next_token is None


def test_activity_inputs_refuse_what_they_cannot_use_without_quoting_it() -> None:
    for bad in ("2026-13-01", "yesterday", 20261121):
        with pytest.raises(InvalidPayload) as raised:
            read(DeleteReportsInput, {"before_day": bad})
        assert raised.value.problems[0].startswith("before_day: ")
        assert str(bad) not in str(raised.value)
    with pytest.raises(InvalidPayload) as raised:
        read(DeleteClaimsInput, {"before": "soon", "token": None})
    assert raised.value.problems[0].startswith("before: ")


def test_settings_defaults_and_schedules() -> None:
    assert app_config.retention_policy({}) == RetentionPolicy(
        instance_days=30, report_days=90, claim_days=30
    )
    assert app_config.retention_policy({"RETENTION_CLAIM_DAYS": "7"}).claim_days == 7
    with pytest.raises(ValueError, match="RETENTION_REPORT_DAYS"):
        app_config.retention_policy({"RETENTION_REPORT_DAYS": "1.5"})
    # The binding names the setting only when it exists; otherwise it carries the default.
    assert app_config.timer_schedule("RETENTION_SCHEDULE", "0 30 3 * * *", {}) == "0 30 3 * * *"
    env = {"RETENTION_SCHEDULE": "0 0 4 * * *"}
    assert (
        app_config.timer_schedule("RETENTION_SCHEDULE", "0 30 3 * * *", env)
        == "%RETENTION_SCHEDULE%"
    )
    with pytest.raises(ValueError, match="six-field"):
        app_config.timer_schedule(
            "RETENTION_SCHEDULE", "0 30 3 * * *", {"RETENTION_SCHEDULE": "0 4 * * *"}
        )
    assert app_config.report_chunking({}) == ChunkingPolicy(
        page_size=500, pages_per_chunk=4, chunks_per_wave=10
    )
    assert app_config.report_chunking({"REPORT_PAGE_SIZE": "100"}).page_size == 100
    with pytest.raises(
        ValueError, match="REPORT_PAGE_SIZE: Input should be less than or equal to 1000"
    ):
        app_config.report_chunking({"REPORT_PAGE_SIZE": "5000"})
    assert app_config.reports_container({}) == "reports"
    with pytest.raises(ValueError):
        app_config.reports_container({"REPORTS_CONTAINER": "Bad_Name"})
