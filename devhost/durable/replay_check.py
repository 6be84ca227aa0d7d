"""Replays recorded histories through the current code to catch changes that break in-flight work.

A recorded history (tests/histories/<orchestrator>/<case>.json, written by
`python -m scripts.record_histories`) holds the raw events devhost stored for one instance.
Every episode is rebuilt exactly as the engine sent it, replayed through the current app's
orchestrator, and its action list walked as the engine walks it (devhost/durable/walk.py, the
extension's event-id assignment and DTFx's non-determinism check). What the code schedules now
must equal what the history shows it scheduled then, episode by episode, and the run must end
with the recorded status and output. Run it as
`python -m devhost.durable.replay_check [--app DIR] [--json] [HISTORY_OR_DIR ...]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.durable.decisions import orchestrator_error
from devhost.durable.failures import orchestrator_failure
from devhost.durable.history import EventType, parse_timestamp
from devhost.durable.replay_inputs import (
    Episode,
    Event,
    context_json,
    cut_episodes,
    episode_history,
    produced_by,
)
from devhost.durable.walk import ActionWalk, FunctionCatalog, HistoryIndex, OrchestrationRejected
from devhost.indexing import load_and_index

FORMAT_VERSION = 1
BREAKS = (
    "this change would break in-flight instances: version the orchestrator (new name) "
    "or drain first"
)
RERECORD = (
    "in-flight instances still replay, but their recorded work differs; if the change is "
    "intended, re-record (python -m scripts.record_histories) and review the diff"
)
SCHEDULING = frozenset(
    {
        EventType.TASK_SCHEDULED,
        EventType.TIMER_CREATED,
        EventType.SUB_ORCHESTRATION_CREATED,
        EventType.EVENT_SENT,
    }
)
# Fields that name what was scheduled: a difference means the replay itself breaks.
IDENTITY_FIELDS = ("EventType", "EventId", "Name")
# Fields that only say how: the replay goes on, but the recorded work was different.
DETAIL_FIELDS = ("Input", "FireAt", "InstanceId", "Version")

# Orchestrators deliberately without recordings yet, each with the reason, in the histories folder.
UNRECORDED_FILE = "unrecorded.json"

Handle = Callable[[func.OrchestrationContext], str]


class RecordingError(ValueError):
    """A history file is not in the recorded-history format."""


@dataclass(frozen=True)
class RecordedHistory:
    """One instance's recorded run: the file format of tests/histories/*/*.json."""

    orchestrator: str
    case: str
    description: str
    app: str  # the app it was recorded on, relative to the project root
    instance_id: str
    parent_instance_id: str | None
    input: Any  # the context's input: the caller's JSON text, as devhost sends it
    runtime_status: str
    output: Any
    scheduled: list[str]  # a readable summary of the history's scheduling events, in order
    history: list[Event]

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT_VERSION, **asdict(self)}, indent=1) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> RecordedHistory:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecordingError(f"{path}: not readable as JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise RecordingError(f'{path}: expected an object with "format": {FORMAT_VERSION}')
        fields = set(cls.__dataclass_fields__)
        missing = sorted(fields - set(data))
        if missing:
            raise RecordingError(f"{path}: missing {', '.join(missing)}")
        history = data["history"]
        if not isinstance(history, list) or len(history) < 2:
            raise RecordingError(f"{path}: history must list at least two events")
        return cls(**{name: data[name] for name in fields})


def summarize(history: list[Event]) -> list[str]:
    """One line per scheduling event, for readable diffs when histories are re-recorded."""
    return [describe(ev) for ev in history if ev["EventType"] in SCHEDULING]


def event_name(kind: int) -> str:
    """The DTFx name of an event type: TaskScheduled, TimerFired, ..."""
    if kind == EventType.SUB_ORCHESTRATION_CREATED:
        return "SubOrchestrationInstanceCreated"
    if kind in (EventType.SUB_ORCHESTRATION_COMPLETED, EventType.SUB_ORCHESTRATION_FAILED):
        return (
            EventType(kind)
            .name.title()
            .replace("_", "")
            .replace("Orchestration", "OrchestrationInstance")
        )
    return EventType(kind).name.title().replace("_", "")


def describe(ev: Event | None) -> str:
    if ev is None:
        return "nothing"
    kind = event_name(ev["EventType"])
    name = f" '{ev['Name']}'" if ev.get("Name") else ""
    fire = f" firing at {ev['FireAt']}" if ev.get("FireAt") else ""
    return f"#{ev['EventId']} {kind}{name}{fire}"


@dataclass(frozen=True)
class App:
    """The current code's orchestrators and the durable names it defines."""

    orchestrators: dict[str, Handle]
    catalog: FunctionCatalog


def load_app(app_dir: Path) -> App:
    """Import the app's function_app as devhost does and index it once."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.WARNING))  # get_functions() warns about auth levels
    try:
        functions = load_and_index(app_dir)
    finally:
        logging.disable(previous)
    orchestrators: dict[str, Handle] = {}
    activities: set[str] = set()
    entities: set[str] = set()
    for fn in functions:
        name = fn.durable_name or fn.name
        if fn.trigger_type == "orchestrationTrigger":
            orchestrators[name] = fn.user_function
        elif fn.trigger_type == "activityTrigger":
            activities.add(name)
        elif fn.trigger_type == "entityTrigger":
            entities.add(name.lower())  # entity names are case-insensitive, as in the engine
    catalog = FunctionCatalog(frozenset(activities), frozenset(orchestrators), frozenset(entities))
    return App(orchestrators, catalog)


@dataclass(frozen=True)
class Problem:
    """The first point where the current code departs from a recorded history."""

    episode: int
    episodes: int
    delivered: str
    message: str
    breaking: bool

    def render(self, where: str) -> str:
        hint = BREAKS if self.breaking else RERECORD
        return (
            f"{where}, episode {self.episode} of {self.episodes} (delivered: {self.delivered}): "
            f"{self.message}; {hint}"
        )


@dataclass(frozen=True)
class Outcome:
    status: str  # Running, Completed, Failed, Terminated, ContinuedAsNew
    value: Any = None


def _recorded_outcome(produced: list[Event], previous: Outcome) -> Outcome:
    for ev in produced:
        if ev["EventType"] == EventType.EXECUTION_COMPLETED:
            status = ev.get("OrchestrationStatus")
            result = ev.get("Result")
            if status == 1:
                return Outcome("Completed", json.loads(result) if result is not None else None)
            if status == 3:
                details = ev.get("FailureDetails") or {}
                return Outcome("Failed", details.get("ErrorMessage") or json.loads(result))
            if status == 5:
                return Outcome("Terminated")
        if ev["EventType"] == EventType.CONTINUE_AS_NEW:
            return Outcome("ContinuedAsNew", ev.get("Input"))
    return previous if previous.status == "Terminated" else Outcome("Running")


def _delivered(events: list[Event], episode: Episode) -> str:
    parts = []
    for ev in events[episode.start + 1 : episode.end]:
        kind = event_name(ev["EventType"])
        target = ev.get("TaskScheduledId", ev.get("TimerId"))
        name = ev.get("Name")
        parts.append(
            kind
            + (f" for #{target}" if target is not None else "")
            + (f" '{name}'" if name and kind != "ExecutionStarted" else "")
        )
    return ", ".join(parts) or "nothing"


def _compare_scheduled(recorded: list[Event], replayed: list[Event]) -> tuple[str, bool] | None:
    """The first difference between what was scheduled then and what the code schedules now."""
    for index in range(max(len(recorded), len(replayed))):
        was = recorded[index] if index < len(recorded) else None
        now = replayed[index] if index < len(replayed) else None
        if was is None or now is None or any(was.get(f) != now.get(f) for f in IDENTITY_FIELDS):
            return (
                f"the recorded run scheduled {describe(was)}, "
                f"the current code schedules {describe(now)}",
                True,
            )
        for field in DETAIL_FIELDS:
            if was.get(field) is None and field == "Input":
                continue  # recorded without storeInputsInOrchestrationHistory: nothing to compare
            if was.get(field) != now.get(field):
                return (
                    f"{describe(was)}: {field} was {was.get(field)!r}, "
                    f"the current code gives {now.get(field)!r}",
                    False,
                )
    return None


class _Replayer:
    """Replays one recorded history episode by episode against one orchestrator."""

    def __init__(self, recorded: RecordedHistory, app: App) -> None:
        self.recorded = recorded
        self.app = app
        self.events = recorded.history
        started = next(
            (e for e in self.events if e["EventType"] == EventType.EXECUTION_STARTED), None
        )
        if started is None:
            raise RecordingError(f"{recorded.case}: the history has no ExecutionStarted event")
        self.name: str = started["Name"]
        self.execution_id: str = (started.get("OrchestrationInstance") or {}).get("ExecutionId", "")

    def run(self) -> tuple[int, Problem | None]:
        episodes = cut_episodes(self.events)
        handle = self.app.orchestrators.get(self.name)
        if handle is None:
            known = ", ".join(sorted(self.app.orchestrators)) or "none"
            message = (
                f"orchestrator '{self.name}' is not registered any more (registered: {known}), "
                "so its in-flight instances would fail"
            )
            return len(episodes), Problem(1, len(episodes), "ExecutionStarted", message, True)
        outcome = Outcome("Running")
        for number, episode in enumerate(episodes, 1):
            produced = produced_by(self.events, episode)
            expected = _recorded_outcome(produced, outcome)
            if any(
                ev["EventType"] == EventType.EXECUTION_TERMINATED
                for ev in self.events[episode.start : episode.end]
            ):
                outcome = expected  # the host terminates without running the orchestrator
                continue
            found = self._episode(handle, episode, produced, expected)
            if found is not None:
                message, breaking = found
                delivered = _delivered(self.events, episode)
                return len(episodes), Problem(number, len(episodes), delivered, message, breaking)
            outcome = expected
        return len(episodes), self._final(outcome, len(episodes))

    def _episode(
        self, handle: Handle, episode: Episode, produced: list[Event], expected: Outcome
    ) -> tuple[str, bool] | None:
        history = episode_history(self.events, episode)
        body = context_json(
            history,
            self.recorded.input,
            self.recorded.instance_id,
            self.recorded.parent_instance_id,
        )
        try:
            with warnings.catch_warnings():
                # Events raised before their wait: the SDK warns "Potential duplicate Task
                # completion"; the engine sees the same warning and carries on.
                warnings.simplefilter("ignore")
                state = json.loads(handle(func.OrchestrationContext(body)))
        except Exception as exc:
            error = orchestrator_error(str(exc))
            reason, _ = orchestrator_failure(self.name, error)
            if expected == Outcome("Failed", reason):
                return None
            return f"the orchestrator now fails: {error}", True
        try:
            walk = ActionWalk(
                HistoryIndex(history[episode.start :], base=HistoryIndex(history[: episode.start])),
                parse_timestamp(self.events[episode.start]["Timestamp"]),
                self.execution_id,
                self.app.catalog,
                store_inputs=True,
                instance_id=self.recorded.instance_id,
            ).run(state.get("actions") or [], state.get("schemaVersion"))
        except OrchestrationRejected as exc:
            return str(exc), True
        if walk.unknown_calls:
            return "; ".join(walk.unknown_calls), True
        recorded = [ev for ev in produced if ev["EventType"] in SCHEDULING]
        difference = _compare_scheduled(recorded, walk.new_events)
        if difference is not None:
            return difference
        if walk.continue_as_new:
            now = Outcome("ContinuedAsNew", walk.continue_as_new_input)
        elif state.get("isDone") and not walk.open_tasks:
            now = Outcome("Completed", state.get("output"))
        else:
            now = Outcome("Running")
        if now.status != expected.status:
            return (
                f"the recorded run was {expected.status} after this episode, "
                f"the current code leaves it {now.status}",
                True,
            )
        if now != expected:
            return (
                f"the recorded run ended with {expected.value!r}, "
                f"the current code ends with {now.value!r}",
                False,
            )
        return None

    def _final(self, outcome: Outcome, episodes: int) -> Problem | None:
        """The file's status and output must be what its own history ends with."""
        recorded = self.recorded
        if outcome.status != recorded.runtime_status:
            message = (
                f"the file says {recorded.runtime_status}, its history ends {outcome.status}: "
                "the recording is inconsistent"
            )
            return Problem(episodes, episodes, "end of history", message, False)
        if outcome.status == "Completed" and outcome.value != recorded.output:
            message = f"the file's output {recorded.output!r} is not what its history returns"
            return Problem(episodes, episodes, "end of history", message, False)
        if recorded.scheduled != summarize(self.events):
            message = "the file's scheduled summary does not match its history"
            return Problem(episodes, episodes, "end of history", message, False)
        return None


@dataclass(frozen=True)
class CheckResult:
    path: str
    orchestrator: str
    case: str
    episodes: int
    problem: str | None
    breaking: bool


def check_history(path: Path, app: App) -> CheckResult:
    """Replay one recorded history against the app; the first departure, if any."""
    try:
        recorded = RecordedHistory.from_file(path)
        episodes, problem = _Replayer(recorded, app).run()
    except RecordingError as exc:
        return CheckResult(str(path), "?", path.stem, 0, str(exc), False)
    return CheckResult(
        str(path),
        recorded.orchestrator,
        recorded.case,
        episodes,
        problem.render(str(path)) if problem else None,
        bool(problem and problem.breaking),
    )


def history_files(paths: Iterable[Path]) -> list[Path]:
    """The *.json files named, or found under the folders named (but the exemptions), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.json") if p.name != UNRECORDED_FILE)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such history file or folder")
    return found


def coverage(registered: Iterable[str], recorded: set[str], exempt: dict[str, str]) -> list[str]:
    """Why the recordings do not cover the app: orchestrators without histories that are not
    exempt, and exemptions that are no longer true (recorded since, or gone)."""
    gaps = []
    for name in sorted(set(registered) - recorded - set(exempt)):
        gaps.append(f"orchestrator '{name}' has no recorded histories")
    for name in sorted(exempt):
        if name in recorded:
            gaps.append(f"'{name}' is recorded now: remove it from {UNRECORDED_FILE}")
        elif name not in registered:
            gaps.append(f"'{name}' is not registered: remove it from {UNRECORDED_FILE}")
    return gaps


def read_exemptions(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise RecordingError(f"{path}: expected an object of orchestrator name -> reason")
    return data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devhost.durable.replay_check", description=__doc__
    )
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("tests/histories")])
    parser.add_argument("--app", type=Path, default=Path("."), help="folder of function_app.py")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--require-all",
        action="store_true",
        help=f"also fail when a registered orchestrator has no histories (nor {UNRECORDED_FILE})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Orchestrators log when not replaying (every episode's tail): not the check's business.
    logging.disable(logging.CRITICAL)
    app = load_app(args.app)
    results = [check_history(path, app) for path in history_files(args.paths)]
    recorded = {r.orchestrator for r in results}
    exempt: dict[str, str] = {}
    for path in args.paths:
        if path.is_dir():
            exempt |= read_exemptions(path / UNRECORDED_FILE)
    gaps = coverage(app.orchestrators, recorded, exempt)
    if args.json:
        report = {
            "registered": sorted(app.orchestrators),
            "unrecorded": sorted(set(app.orchestrators) - recorded),
            "coverage": gaps,
            "results": [asdict(r) for r in results],
        }
        print(json.dumps(report, indent=1))
    else:
        for r in results:
            print(f"FAIL {r.problem}" if r.problem else f"ok   {r.path} ({r.episodes} episodes)")
        for gap in gaps:
            print(f"{'FAIL' if args.require_all else 'note'} {gap}")
        failed = sum(1 for r in results if r.problem)
        print(f"{len(results)} histories replayed, {failed} failed")
    broken = any(r.problem for r in results) or (args.require_all and bool(gaps))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
