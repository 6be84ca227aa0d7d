"""Replays an orchestrator's action list the way the extension's shim does, assigning event ids.

Every episode the SDK returns the cumulative list of actions of the current execution. The
real host replays that list through a DTFx context: each action is awaited in turn, compound
actions schedule all their children first, and every scheduled item (activity, timer,
sub-orchestration, retry timer) takes the next EventId. Items whose id already has a
scheduling event in the history are replays; only the tail is new. This module performs the
same walk and reports the new history events and the work they imply.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devhost.durable.history import (
    COMPLETION_KEY,
    FAILURE_TYPES,
    EventType,
    event,
    format_timestamp,
    parse_timestamp,
)


class ActionType:
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


UNSUPPORTED = {
    ActionType.CALL_ENTITY: "call_entity (durable entities)",
    ActionType.SIGNAL_ENTITY: "signal_entity (durable entities)",
    ActionType.CALL_HTTP: "call_http",
}


class OrchestrationRejected(Exception):
    """The action list cannot be executed; the orchestration fails with this message."""


@dataclass
class ActivityCall:
    task_id: int
    name: str
    input_text: str | None


@dataclass
class TimerRequest:
    timer_id: int
    fire_at: datetime


@dataclass
class SubOrchestrationCall:
    task_id: int
    name: str
    instance_id: str
    input_text: str | None
    version: str | None


@dataclass
class WalkResult:
    new_events: list[dict[str, Any]] = field(default_factory=list)
    activities: list[ActivityCall] = field(default_factory=list)
    timers: list[TimerRequest] = field(default_factory=list)
    sub_orchestrations: list[SubOrchestrationCall] = field(default_factory=list)
    # Scheduled items not completed yet. DTFx completes an orchestration only when none is
    # left, so a task_any loser that was not cancelled keeps the instance Running until done.
    open_tasks: set[int] = field(default_factory=set)
    # Calls to functions the app does not define: the extension only logs them, consumes no
    # event id and never completes the call, so the orchestration waits forever.
    unknown_calls: list[str] = field(default_factory=list)
    continue_as_new: bool = False
    continue_as_new_input: str | None = None


@dataclass(frozen=True)
class FunctionCatalog:
    """Durable names the app defines, so calls to unknown functions fail as in Azure."""

    activities: frozenset[str]
    orchestrators: frozenset[str]


def _unknown_function_message(name: str, kind: str, known: frozenset[str]) -> str:
    noun = kind.split()[-1]
    if known:
        listed = ", ".join(f"'{n}'" for n in sorted(known))
        info = f"The following are the known {noun} functions: {listed}."
    else:
        info = f"No {noun} functions are currently registered!"
    return (
        f"The function '{name}' doesn't exist, is disabled, or is not {kind} function. "
        f"Additional info: {info}"
    )


_SCHEDULING = (
    EventType.TASK_SCHEDULED,
    EventType.TIMER_CREATED,
    EventType.SUB_ORCHESTRATION_CREATED,
)


class HistoryIndex:
    """What the walk looks up in a history: scheduling events and completions by task id, and
    raised events by name. It grows with the history; an episode's new events go in an overlay
    on top of the played history's index, so no episode rescans the whole history."""

    def __init__(
        self, events: list[dict[str, Any]] | None = None, base: HistoryIndex | None = None
    ) -> None:
        self._base = base
        self._scheduled: dict[int, dict[str, Any]] = {}
        self._completions: dict[int, dict[str, Any]] = {}
        self._raised: dict[str, int] = defaultdict(int)
        self.add(events or [])

    def add(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            kind = ev["EventType"]
            if kind in _SCHEDULING:
                self._scheduled[ev["EventId"]] = ev
            elif kind in COMPLETION_KEY:
                task_id = ev[COMPLETION_KEY[kind]]
                if self.completion(task_id) is None:  # the first completion counts
                    self._completions[task_id] = ev
            elif kind == EventType.EVENT_RAISED:
                self._raised[ev["Name"]] += 1

    def scheduled(self, task_id: int) -> dict[str, Any] | None:
        found = self._scheduled.get(task_id)
        if found is None and self._base is not None:
            return self._base.scheduled(task_id)
        return found

    def completion(self, task_id: int) -> dict[str, Any] | None:
        found = self._completions.get(task_id)
        if found is None and self._base is not None:
            return self._base.completion(task_id)
        return found

    def raised(self, name: str) -> int:
        """How many events with this name were raised."""
        return self._raised.get(name, 0) + (self._base.raised(name) if self._base else 0)


class ActionWalk:
    """One walk over the cumulative action list against the history so far."""

    def __init__(
        self,
        history: HistoryIndex,
        now: datetime,
        execution_id: str,
        catalog: FunctionCatalog,
        *,
        store_inputs: bool = False,
    ) -> None:
        self._now = now
        self._execution_id = execution_id
        self._catalog = catalog
        self._history = history
        self._consumed: dict[str, int] = defaultdict(int)
        self._counter = 0
        self._cancelled: set[int] = set()
        self._store_inputs = store_inputs
        self.result = WalkResult()

    # -- entry point -------------------------------------------------------------------------

    def run(self, actions: list[list[dict[str, Any]]], schema_version: int | None) -> WalkResult:
        if schema_version is None:
            raise OrchestrationRejected(
                "the orchestrator used the V1 replay schema, which devhost does not emulate"
            )
        if len(actions) > 1:
            raise OrchestrationRejected(
                f"expected one action list for replay schema V{schema_version}, got {len(actions)}"
            )
        for action in actions[0] if actions else []:
            if action["actionType"] == ActionType.CONTINUE_AS_NEW:
                self.result.continue_as_new = True
                self.result.continue_as_new_input = action.get("input")
                break
            if not self._schedule(action):
                break  # the host awaits each action in turn; later ones are not reached yet
        self.result.open_tasks = {
            task_id
            for task_id in range(self._counter)
            if self._history.completion(task_id) is None and task_id not in self._cancelled
        }
        return self.result

    # -- scheduling ----------------------------------------------------------------------------

    def _next_id(self) -> int:
        value = self._counter
        self._counter += 1
        return value

    def _schedule(self, action: dict[str, Any]) -> bool:
        """Schedule `action` (idempotently) and return whether awaiting it has finished."""
        kind = action["actionType"]
        if kind in UNSUPPORTED:
            raise OrchestrationRejected(f"devhost does not support {UNSUPPORTED[kind]} yet")
        if kind == ActionType.CALL_ACTIVITY:
            return self._activity(action)
        if kind == ActionType.CALL_SUB_ORCHESTRATOR:
            return self._sub_orchestration(action)
        if kind in (
            ActionType.CALL_ACTIVITY_WITH_RETRY,
            ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY,
        ):
            return self._with_retry(action)
        if kind == ActionType.CREATE_TIMER:
            return self._timer(action)
        if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return self._external_event(action)
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            done = [self._schedule(child) for child in action.get("compoundActions", [])]
            return all(done) if kind == ActionType.WHEN_ALL else any(done)
        raise OrchestrationRejected(f"unknown action type {kind}")

    def _check_replay(self, task_id: int, kind: EventType, name: str | None) -> bool:
        """True if `task_id` was scheduled before; fails on a non-deterministic replay."""
        previous = self._history.scheduled(task_id)
        if previous is None:
            return False
        if previous["EventType"] != kind or (name is not None and previous.get("Name") != name):
            raise OrchestrationRejected(
                "Non-Deterministic workflow detected: a previous execution of this orchestration "
                f"scheduled {EventType(previous['EventType']).name} "
                f"'{previous.get('Name', '')}' with sequence number {task_id}, but the current "
                f"replay scheduled {kind.name} '{name or ''}'. Was a change made to the "
                "orchestrator code after this instance had already started running?"
            )
        return True

    def _activity(self, action: dict[str, Any]) -> bool:
        name = action["functionName"]
        if name not in self._catalog.activities:
            self.result.unknown_calls.append(
                _unknown_function_message(name, "an activity", self._catalog.activities)
            )
            return False
        task_id = self._next_id()
        if not self._check_replay(task_id, EventType.TASK_SCHEDULED, name):
            self.result.new_events.append(
                event(
                    EventType.TASK_SCHEDULED,
                    self._now,
                    task_id,
                    Name=name,
                    Version="",
                    Input=self._history_input(action),
                )
            )
            self.result.activities.append(ActivityCall(task_id, name, action.get("input")))
        return self._history.completion(task_id) is not None

    def _sub_orchestration(self, action: dict[str, Any]) -> bool:
        name = action["functionName"]
        if name not in self._catalog.orchestrators:
            self.result.unknown_calls.append(
                _unknown_function_message(name, "an orchestrator", self._catalog.orchestrators)
            )
            return False
        task_id = self._next_id()
        if not self._check_replay(task_id, EventType.SUB_ORCHESTRATION_CREATED, name):
            instance_id = action.get("instanceId") or f"{self._execution_id}:{task_id}"
            self.result.new_events.append(
                event(
                    EventType.SUB_ORCHESTRATION_CREATED,
                    self._now,
                    task_id,
                    Name=name,
                    Version=action.get("version") or "",
                    InstanceId=instance_id,
                    Input=self._history_input(action),
                )
            )
            self.result.sub_orchestrations.append(
                SubOrchestrationCall(
                    task_id, name, instance_id, action.get("input"), action.get("version")
                )
            )
        return self._history.completion(task_id) is not None

    def _history_input(self, action: dict[str, Any]) -> str | None:
        # Azure Storage keeps call inputs out of the history unless the app opts in with
        # host.json durableTask.storeInputsInOrchestrationHistory.
        return action.get("input") if self._store_inputs else None

    def _new_timer(self, fire_at: datetime) -> int:
        timer_id = self._next_id()
        if not self._check_replay(timer_id, EventType.TIMER_CREATED, None):
            self.result.new_events.append(
                event(
                    EventType.TIMER_CREATED, self._now, timer_id, FireAt=format_timestamp(fire_at)
                )
            )
            self.result.timers.append(TimerRequest(timer_id, fire_at))
        return timer_id

    def _timer(self, action: dict[str, Any]) -> bool:
        timer_id = self._new_timer(parse_timestamp(action["fireAt"]))
        fired = self._history.completion(timer_id) is not None
        if action.get("isCanceled") and not fired:
            # Cancelling only forgets the task: the timer still fires later (and is ignored).
            self._cancelled.add(timer_id)
            return False
        return fired

    def _external_event(self, action: dict[str, Any]) -> bool:
        name = action["externalEventName"]
        if self._consumed[name] < self._history.raised(name):
            self._consumed[name] += 1
            return True
        return False

    def _with_retry(self, action: dict[str, Any]) -> bool:
        options = action.get("retryOptions") or {}
        interval = timedelta(milliseconds=int(options.get("firstRetryIntervalInMilliseconds", 0)))
        max_attempts = max(1, int(options.get("maxNumberOfAttempts", 1)))
        is_activity = action["actionType"] == ActionType.CALL_ACTIVITY_WITH_RETRY
        attempt_action = dict(action, actionType=ActionType.CALL_ACTIVITY)
        if not is_activity:
            attempt_action["actionType"] = ActionType.CALL_SUB_ORCHESTRATOR
        attempt = 0
        while True:
            task_id = self._counter
            done = self._schedule(attempt_action)
            if not done:
                return False
            outcome = self._history.completion(task_id)
            if outcome is not None and outcome["EventType"] not in FAILURE_TYPES:
                return True
            # DTFx's retry interceptor waits after every failed attempt, the last one included.
            timer_id = self._counter
            if self._history.scheduled(timer_id) is not None:
                self._new_timer(self._now)  # replay: the fire time is already recorded
            else:
                self._new_timer(self._now + interval)
            if self._history.completion(timer_id) is None:
                return False
            attempt += 1
            if attempt >= max_attempts:
                return True
