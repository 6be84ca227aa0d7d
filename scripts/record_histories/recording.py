"""Runs a suite's cases on devhost (virtual time) and writes each instance's history as JSON.

The app is copied to a temporary folder with `storeInputsInOrchestrationHistory` switched on,
so TaskScheduled and SubOrchestrationInstanceCreated events carry their inputs and the replay
check can compare them; nothing else about the run changes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.azurite import Azurite
from devhost.durable.history import EventType
from devhost.durable.replay_check import RecordedHistory, summarize
from devhost.testing import PROJECT_ROOT, DevHostProcess


@dataclass
class Session:
    """A running devhost for one suite, and the folder its stub activities read and write."""

    host: DevHostProcess
    folder: Path


@dataclass(frozen=True)
class Case:
    """One representative path: drive the host until the instance is where it should be
    recorded (usually finished; possibly waiting, paused in virtual time), return its id."""

    name: str
    description: str
    drive: Callable[[Session], str]


@dataclass(frozen=True)
class Suite:
    """The cases of one orchestrator, and the app (usually with stub activities) that runs them."""

    orchestrator: str
    app_dir: Path
    cases: tuple[Case, ...]
    # Extra environment for devhost, given the session folder and Azurite (None if not needed).
    env: Callable[[Path, Azurite | None], dict[str, str]] = lambda folder, azurite: {}
    azurite: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


_COPY_IGNORE = shutil.ignore_patterns(
    ".devhost", "__pycache__", "node_modules", ".venv", "local.settings.json"
)


def prepare_app(app_dir: Path, target: Path) -> Path:
    """A copy of the app whose host.json stores call inputs in the history."""
    if (app_dir / ".git").exists():
        raise ValueError(f"{app_dir}: record on a small test app (tests/apps/...), not a repo")
    shutil.copytree(app_dir, target, ignore=_COPY_IGNORE)
    host_json = target / "host.json"
    settings = json.loads(host_json.read_text()) if host_json.exists() else {"version": "2.0"}
    durable = settings.setdefault("extensions", {}).setdefault("durableTask", {})
    durable["storeInputsInOrchestrationHistory"] = True
    host_json.write_text(json.dumps(settings, indent=2))
    return target


@contextmanager
def running(suite: Suite, workdir: Path) -> Iterator[Session]:
    """devhost on a copy of the suite's app, virtual time, its own Azurite if the app needs it."""
    with ExitStack() as stack:
        azurite = None
        if suite.azurite:
            azurite = Azurite(workdir / "azurite", project_root=PROJECT_ROOT)
            azurite.start()
            stack.callback(azurite.stop)
        folder = workdir / "state"
        folder.mkdir()
        app = prepare_app(suite.app_dir, workdir / "app")
        host = DevHostProcess(
            app,
            state_dir=folder,
            virtual_time=True,
            # host.json names the task hub through TASK_HUB_NAME (the stubs app's too).
            env={"TASK_HUB_NAME": "JobsHub", **suite.env(folder, azurite)},
            extra_args=["--log-level", "WARNING"],
        )
        host.start()
        stack.callback(host.close)
        yield Session(host, folder)


def _children(history: list[dict[str, Any]]) -> list[str]:
    return [
        ev["InstanceId"]
        for ev in history
        if ev["EventType"] == EventType.SUB_ORCHESTRATION_CREATED and ev.get("InstanceId")
    ]


def capture(session: Session, app: str, case: Case, instance_id: str) -> list[RecordedHistory]:
    """The instance and every sub-orchestration it started, each as a RecordedHistory."""
    host = session.host
    host.wait_idle()  # no episode half done; with paused time a waiting instance stays waiting
    recorded: list[RecordedHistory] = []
    pending = [(instance_id, case.name)]
    counts: dict[str, int] = {}
    while pending:
        current, name = pending.pop(0)
        status = host.status(current) or {}
        history = host.raw_history(current)
        started = next(e for e in history if e["EventType"] == EventType.EXECUTION_STARTED)
        parent = (started.get("ParentInstance") or {}).get("OrchestrationInstance") or {}
        recorded.append(
            RecordedHistory(
                orchestrator=started["Name"],
                case=name,
                description=case.description,
                app=str(app),
                instance_id=current,
                parent_instance_id=parent.get("InstanceId"),
                input=status.get("input"),
                runtime_status=status["runtimeStatus"],
                output=status.get("output"),
                scheduled=summarize(history),
                history=history,
            )
        )
        for child in _children(history):
            child_name = host.status(child)["name"]
            counts[child_name] = counts.get(child_name, 0) + 1
            pending.append((child, f"{case.name}.{child_name}-{counts[child_name]}"))
    return recorded


def record_suite(suite: Suite, out: Path, only: set[str] | None = None) -> list[Path]:
    """Run the suite's cases (or the named ones) and write one file per instance."""
    unknown = (only or set()) - {c.name for c in suite.cases}
    if unknown:
        raise ValueError(f"{suite.orchestrator} has no case(s) {sorted(unknown)}")
    written: list[Path] = []
    app = suite.app_dir.resolve().relative_to(PROJECT_ROOT).as_posix()
    with (
        tempfile.TemporaryDirectory(prefix="record-histories-") as tmp,
        running(suite, Path(tmp)) as session,
    ):
        for case in suite.cases:
            if only and case.name not in only:
                continue
            instance_id = case.drive(session)
            for recorded in capture(session, app, case, instance_id):
                path = out / recorded.orchestrator / f"{recorded.case}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(recorded.to_json(), encoding="utf-8")
                written.append(path)
                shown = (
                    path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
                )
                print(f"{shown}: {recorded.runtime_status}, {len(recorded.history)} events")
    return written
