"""Retention's rules: only terminal instances are purged, and what counts as old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import app_config
from domain.retention import (
    PURGEABLE_STATUSES,
    RetentionPolicy,
    RetentionRun,
    claim_is_expired,
    cutoffs,
    purge_statuses,
    report_is_expired,
)

AS_OF = datetime(2026, 11, 21, 3, 30, tzinfo=UTC)


def test_a_purge_names_only_statuses_that_never_run_again() -> None:
    assert purge_statuses() == ("Completed", "Failed", "Terminated")
    for unsafe in ("Running", "Pending", "Suspended", "ContinuedAsNew"):
        with pytest.raises(ValueError, match="never purge"):
            purge_statuses((*PURGEABLE_STATUSES, unsafe))
    with pytest.raises(ValueError, match="at least one"):
        purge_statuses(())


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


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_policy_ages_are_whole_positive_days(days: object) -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(instance_days=days)  # type: ignore[arg-type]


def test_the_run_input_round_trips_and_needs_a_time() -> None:
    run = RetentionRun(AS_OF.isoformat(), RetentionPolicy(1, 2, 3), "tok", 5, 2, 7, 1)
    assert RetentionRun.from_dict(run.to_dict()) == run
    assert run.moment == AS_OF
    with pytest.raises(ValueError):
        RetentionRun.from_dict({"as_of": "not a time"})


def test_settings_defaults_and_schedules() -> None:
    assert app_config.retention_days({}) == {
        "instance_days": 30,
        "report_days": 90,
        "claim_days": 30,
    }
    assert app_config.retention_days({"RETENTION_CLAIM_DAYS": "7"})["claim_days"] == 7
    with pytest.raises(ValueError, match="RETENTION_REPORT_DAYS"):
        app_config.retention_days({"RETENTION_REPORT_DAYS": "1.5"})
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
    assert app_config.report_chunking({}) == {
        "page_size": 500,
        "pages_per_chunk": 4,
        "chunks_per_wave": 10,
    }
    assert app_config.reports_container({}) == "reports"
    with pytest.raises(ValueError):
        app_config.reports_container({"REPORTS_CONTAINER": "Bad_Name"})
