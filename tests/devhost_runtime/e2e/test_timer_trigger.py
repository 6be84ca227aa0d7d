"""Timer triggers on devhost with Azurite: schedules, start-up runs, past-due runs, one host."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess, wait_until
from devhost.triggers.timer import ScheduleError, TimerSchedule

APPS = Path(__file__).resolve().parents[2] / "apps"


def entries(journal: Path, function: str | None = None) -> list[dict]:
    if not journal.exists():
        return []
    rows = [json.loads(line) for line in journal.read_text().splitlines() if line]
    return [r for r in rows if function is None or r["function"] == function]


def timer_env(azurite: Azurite, journal: Path, host_id: str, **extra: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "TIMER_JOURNAL": str(journal),
        "NIGHTLY_SCHEDULE": "0 0 2 * * *",
        "AzureFunctionsWebHost__hostid": host_id,
        **extra,
    }


def test_schedules_are_six_field_ncrontab() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert TimerSchedule("0 0 2 * * *").next_after(start) == start + timedelta(hours=2)
    assert TimerSchedule("*/10 * * * * *").interval() == 10
    with pytest.raises(ScheduleError, match="TimeSpan"):
        TimerSchedule("00:05:00")
    with pytest.raises(ScheduleError, match="six-field"):
        TimerSchedule("0 */5 * * *")
    with pytest.raises(ScheduleError, match="six-field"):
        TimerSchedule("61 * * * * *")


def test_fires_on_schedule_and_on_startup(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    host = devhost_factory(APPS / "timers", env=timer_env(azurite, journal, "timers-schedule"))
    host.start()
    wait_until(lambda: len(entries(journal, "every_second")) >= 3)
    assert host.stop() == 0
    runs = entries(journal, "every_second")
    assert not any(r["past_due"] for r in runs)
    lasts = [r["last"] for r in runs]
    assert lasts == sorted(lasts) and len(set(lasts)) == len(lasts)  # one call per occurrence
    startup = entries(journal, "on_startup")
    assert len(startup) == 1 and startup[0]["past_due"] is False
    assert "timerTrigger (0 0 2 * * *)" not in host.logs()  # the %setting% was resolved
    assert "nightly: timerTrigger (%NIGHTLY_SCHEDULE%)" in host.logs()


def test_an_occurrence_missed_while_down_runs_once_as_past_due(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    env = timer_env(azurite, journal, "timers-past-due")
    first = devhost_factory(APPS / "timers", env=env)
    first.start()
    wait_until(lambda: len(entries(journal, "every_second")) >= 1)
    first.stop()
    time.sleep(2.5)  # at least two occurrences pass while nothing runs
    before = len(entries(journal, "every_second"))
    second = devhost_factory(APPS / "timers", env=env)
    second.start()
    wait_until(lambda: len(entries(journal, "every_second")) >= before + 2)
    second.stop()
    after = entries(journal, "every_second")[before:]
    assert after[0]["past_due"] is True  # the missed occurrence, once
    assert [r["past_due"] for r in after[1:]] == [False] * (len(after) - 1)


def test_two_hosts_on_one_storage_fire_each_occurrence_once(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    env = timer_env(azurite, journal, "timers-singleton")
    hosts = [devhost_factory(APPS / "timers", env=env) for _ in range(2)]
    for host in hosts:
        host.start()
    # Both hosts up for several occurrences (the second may take the lease at any of them).
    wait_until(lambda: len(entries(journal, "every_second")) >= 4, what="four occurrences")
    for host in hosts:
        host.stop()
    runs = entries(journal, "every_second")
    occurrences = [r["last"] for r in runs]
    assert len(occurrences) >= 4
    assert len(occurrences) == len(set(occurrences)), "an occurrence fired twice"
    assert len({r["pid"] for r in runs}) == 1  # the lease holder runs the timer


def test_virtual_time_moves_the_nightly_schedule(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    host = devhost_factory(
        APPS / "timers", virtual_time=True, env=timer_env(azurite, journal, "timers-virtual")
    )
    host.start()
    now = datetime.now(UTC)
    next_two_am = (now + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
    if next_two_am - now > timedelta(days=1):
        next_two_am -= timedelta(days=1)
    host.set_time(advance_seconds=(next_two_am - now).total_seconds() + 1)
    wait_until(lambda: len(entries(journal, "nightly")) == 1)
    nightly = entries(journal, "nightly")[0]
    assert datetime.fromisoformat(nightly["last"]) == next_two_am
    assert nightly["past_due"] is False


def test_bad_schedules_are_refused_and_the_host_keeps_running(
    devhost_factory: Callable[..., DevHostProcess],
) -> None:
    host = devhost_factory(APPS / "bad_timers")
    host.start()
    assert host.http.get(host.url("/api/alive"), timeout=10).text == "yes"
    logs = host.logs()
    assert "Timer 'timespan' will not run: '00:05:00' is a TimeSpan schedule" in logs
    assert "Timer 'five_fields' will not run" in logs
