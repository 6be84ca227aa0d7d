"""The monitor's representative paths on the monitor_stubs app (the real orchestrator over
scripted stub poll and publish activities; see apps/monitor_stubs/function_app.py).

The monitor continues as new after every wait, and devhost (like the extension) keeps only the
current execution's history: a case that polls more than once records its last execution,
whose input carries the polls, the update numbering and the start and expiry times of the runs
before it. The `waiting` cases are recorded in flight, paused in virtual time, on the timer
every execution but the last one ends on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devhost.azurite import Azurite
from domain.monitors import MonitorRequest, MonitorState, instance_id_for
from domain.payload import read
from orchestrators.monitor import CANCEL_EVENT, ORCHESTRATOR
from scripts.record_histories.recording import Case, Session, Suite

APP = Path(__file__).resolve().parent / "apps" / "monitor_stubs"
# Never fetched: the stub poll activity answers from the script.
STATUS_URL = "https://status.example.com/operations/{id}"
CONDITION = {"pointer": "/status", "equals": "done"}
FAILURE = {"pointer": "/status", "equals": "failed"}


def _env(folder: Path, azurite: Azurite | None) -> dict[str, str]:
    if azurite is None:
        raise ValueError("devhost's task hub needs Azurite")
    return {"MONITOR_STUBS_DIR": str(folder), "AzureWebJobsStorage": azurite.connection_string}


def _start(session: Session, case: str, polls: list[str], *, expires_in: float = 3600) -> str:
    monitor_id = f"hist-{case.replace('_', '-')}"
    script_file = session.folder / "script.json"
    script = json.loads(script_file.read_text()) if script_file.exists() else {}
    script[monitor_id] = polls
    script_file.write_text(json.dumps(script))
    request = read(
        MonitorRequest,
        {
            "monitor_id": monitor_id,
            "status_url": STATUS_URL.format(id=monitor_id),
            "condition": CONDITION,
            "failure_condition": FAILURE,
            "interval_seconds": 10,
            "max_interval_seconds": 40,
            "backoff_factor": 2,
            "expires_in_seconds": expires_in,
        },
    )
    state = MonitorState.start(request, monitor_id, "corr-1")
    instance_id = instance_id_for(monitor_id)
    session.host.start_orchestration(ORCHESTRATOR, state.dump(), instance_id)
    return instance_id


def _step(session: Session, instance_id: str, step: str) -> None:
    """Wait until the monitor's custom status shows `step` and devhost is idle."""
    deadline = time.monotonic() + 60
    while ((session.host.status(instance_id) or {}).get("customStatus") or {}).get("step") != step:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{instance_id} never reached step {step}")
        time.sleep(0.02)
    session.host.wait_idle()


def _to_end(case: str, polls: list[str], ending: str, **start: Any) -> Callable[[Session], str]:
    def drive(session: Session) -> str:
        session.host.set_time(auto_advance=True)
        instance_id = _start(session, case, polls, **start)
        status = session.host.wait_for(instance_id, timeout=120)
        if status["runtimeStatus"] != "Completed" or status["output"]["status"] != ending:
            raise RuntimeError(f"{instance_id}: expected {ending}, got {status}")
        return instance_id

    return drive


def _polls_carried(session: Session, instance_id: str) -> int:
    """How many polls the current execution's input says came before it."""
    text = (session.host.status(instance_id) or {}).get("input") or "{}"
    return int((json.loads(text) if isinstance(text, str) else text).get("polls", 0))


def _waiting(case: str, polls: int) -> Callable[[Session], str]:
    """Paused on the timer after `polls` pending polls (so after polls - 1 continue-as-new)."""

    def drive(session: Session) -> str:
        session.host.set_time(auto_advance=False)
        instance_id = _start(session, case, ["pending"] * polls)
        _step(session, instance_id, "waiting")
        for poll in range(1, polls):
            session.host.set_time(advance_seconds=60)  # past this wait: the next execution
            deadline = time.monotonic() + 60
            while _polls_carried(session, instance_id) != poll:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{instance_id} did not continue as new")
                time.sleep(0.02)
            _step(session, instance_id, "waiting")
        return instance_id

    return drive


def _cancelled_while_waiting(session: Session) -> str:
    session.host.set_time(auto_advance=False)
    instance_id = _start(session, "cancelled_while_waiting", ["pending"])
    _step(session, instance_id, "waiting")
    session.host.raise_event(instance_id, CANCEL_EVENT, {"reason": "no longer needed"})
    status = session.host.wait_for(instance_id, timeout=60)
    if status["output"]["status"] != "cancelled":
        raise RuntimeError(f"{instance_id}: expected cancelled, got {status}")
    return instance_id


CASES = (
    Case(
        "done_first_poll",
        "the first poll sees the condition: polling milestone, completed",
        _to_end("done_first_poll", ["done"], "completed"),
    ),
    Case(
        "done_after_waits",
        "pending, a transient poll failure, then done: the third execution (after two "
        "continue-as-new) completes",
        _to_end("done_after_waits", ["pending", "transient", "done"], "completed"),
    ),
    Case(
        "failure_condition",
        "the first poll sees the failure condition: failed",
        _to_end("failure_condition", ["failed"], "failed"),
    ),
    Case(
        "permanent_poll_failure",
        "the second poll fails permanently: the second execution ends failed",
        _to_end(
            "permanent_poll_failure", ["pending", "permanent:status URL answered 404"], "failed"
        ),
    ),
    Case(
        "expired",
        "never done within 25 s (waits of 10 and 20 s): the execution past the expiry ends expired",
        _to_end("expired", [], "expired", expires_in=25),
    ),
    Case(
        "cancelled_while_waiting",
        "the cancel event arrives during the wait: the timer is cancelled, cancelled",
        _cancelled_while_waiting,
    ),
    Case(
        "waiting_first_run",
        "in flight: the first execution waiting on its timer after a pending poll (Running)",
        _waiting("waiting_first_run", 1),
    ),
    Case(
        "waiting_later_run",
        "in flight: the second execution (continued as new) waiting on its timer (Running)",
        _waiting("waiting_later_run", 2),
    ),
)

SUITE = Suite(ORCHESTRATOR, APP, CASES, env=_env, azurite=True)
