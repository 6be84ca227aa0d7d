"""Replays an orchestrator's action list the way the extension's shim does, assigning event ids.

Every episode the SDK returns the cumulative list of actions of the current execution. The
real host replays that list through a DTFx context: each action is awaited in turn, compound
actions schedule all their children first, and every scheduled item (activity, timer,
sub-orchestration, retry timer) takes the next EventId. Items whose id already has a
scheduling event in the history are replays; only the tail is new. This module performs the
same walk and reports the new history events and the work they imply.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devhost.durable import entity_wire, http_activity
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


UNSUPPORTED: dict[int, str] = {}


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
    # Entity requests sent by this episode: (target "@name@key", RequestMessage).
    entity_requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionCatalog:
    """Durable names the app defines, so calls to unknown functions fail as in Azure."""

    activities: frozenset[str]
    orchestrators: frozenset[str]
    entities: frozenset[str] = frozenset()  # lower-cased entity names


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
    EventType.EVENT_SENT,  # entity calls and signals
)


class HistoryIndex:
    """What the walk looks up in a history: scheduling events and completions by task id, and
    raised events in order, each with its position in the history. It grows with the history;
    an episode's new events go in an overlay on top of the played history's index, so no
    episode rescans the whole history."""

    def __init__(
        self, events: list[dict[str, Any]] | None = None, base: HistoryIndex | None = None
    ) -> None:
        self._base = base
        self._size = base.size if base is not None else 0
        self._scheduled: dict[int, dict[str, Any]] = {}
        self._completions: dict[int, tuple[dict[str, Any], int]] = {}
        self._raised: list[tuple[int, str]] = []
        self._raised_first: dict[str, int] = {}
        self.add(events or [])

    @property
    def size(self) -> int:
        return self._size

    def add(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            position = self._size
            self._size += 1
            kind = ev["EventType"]
            if kind in _SCHEDULING:
                self._scheduled[ev["EventId"]] = ev
            elif kind in COMPLETION_KEY:
                task_id = ev[COMPLETION_KEY[kind]]
                if self.completion(task_id) is None:  # the first completion counts
                    self._completions[task_id] = (ev, position)
            elif kind == EventType.EVENT_RAISED:
                self._raised.append((position, ev["Name"]))
                if self.raised_at(ev["Name"]) is None:
                    self._raised_first[ev["Name"]] = position

    def scheduled(self, task_id: int) -> dict[str, Any] | None:
        found = self._scheduled.get(task_id)
        if found is None and self._base is not None:
            return self._base.scheduled(task_id)
        return found

    def _completion(self, task_id: int) -> tuple[dict[str, Any], int] | None:
        found = self._completions.get(task_id)
        if found is None and self._base is not None:
            return self._base._completion(task_id)
        return found

    def completion(self, task_id: int) -> dict[str, Any] | None:
        found = self._completion(task_id)
        return None if found is None else found[0]

    def completed_at(self, task_id: int) -> int | None:
        """The history position of the task's completion, None while it is open."""
        found = self._completion(task_id)
        return None if found is None else found[1]

    def raised_at(self, name: str) -> int | None:
        """The position of the first event raised with `name` (an entity's response carries
        the request id as its name), None if there is none."""
        found = self._raised_first.get(name)
        if found is None and self._base is not None:
            return self._base.raised_at(name)
        return found

    def raised(self) -> list[tuple[int, str]]:
        """Every raised event as (position, name), in history order."""
        return (self._base.raised() if self._base else []) + self._raised


# When an awaited action finished, as a history position; None while it has not.
Completion = Callable[[], int | None]


def _never() -> int | None:
    return None


def _at(position: int | None) -> Completion:
    return lambda: position


def _all(children: list[Completion]) -> Completion:
    def done() -> int | None:
        times = [child() for child in children]
        return None if None in times else max((t for t in times if t is not None), default=-1)

    return done


def _any(children: list[Completion]) -> Completion:
    def done() -> int | None:
        return min((t for child in children if (t := child()) is not None), default=None)

    return done


@dataclass
class _Waiter:
    """One wait_for_external_event the shim has reached."""

    done_at: int | None = None


class ActionWalk:
    """One walk over the cumulative action list against the history so far.

    Activities, timers and sub-orchestrations complete where their completion is in the
    history. Raised events are handed out in history order as the extension does: to the
    most recent wait for that name that is still open (a stack, so a wait abandoned by a
    task_any that a timer won does not swallow the events meant for a later wait), or, with
    none open, kept in a queue that the next wait takes from in arrival order.
    """

    def __init__(
        self,
        history: HistoryIndex,
        now: datetime,
        execution_id: str,
        catalog: FunctionCatalog,
        *,
        store_inputs: bool = False,
        instance_id: str = "",
    ) -> None:
        self._now = now
        self._execution_id = execution_id
        self._catalog = catalog
        self._history = history
        self._counter = 0
        # The history position the shim has reached: the completion it last waited for.
        self._cursor = 0
        self._events = history.raised()
        self._delivered = 0
        self._waiting: dict[str, list[_Waiter]] = defaultdict(list)
        self._buffered: dict[str, deque[int]] = defaultdict(deque)
        self._cancelled: set[int] = set()
        self._store_inputs = store_inputs
        self._instance_id = instance_id
        # The extension's NewGuid counter and the entity tasks that need no completion event.
        self._guid_counter = 0
        self._settled: set[int] = set()
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
            done_at = self._await(self._schedule(action))
            if done_at is None:
                break  # the host awaits each action in turn; later ones are not reached yet
            self._cursor = max(self._cursor, done_at)
        self.result.open_tasks = {
            task_id
            for task_id in range(self._counter)
            if self._history.completion(task_id) is None
            and task_id not in self._cancelled
            and task_id not in self._settled
        }
        return self.result

    # -- scheduling ----------------------------------------------------------------------------

    def _next_id(self) -> int:
        value = self._counter
        self._counter += 1
        return value

    def _await(self, completion: Completion) -> int | None:
        """When the awaited action finishes, handing out the events raised until then."""
        while True:
            done_at = completion()
            upcoming = (
                self._events[self._delivered][0] if self._delivered < len(self._events) else None
            )
            if upcoming is None or (done_at is not None and done_at < upcoming):
                return done_at
            self._deliver_next()

    def _deliver_next(self) -> None:
        position, name = self._events[self._delivered]
        self._delivered += 1
        waiting = self._waiting[name]
        if waiting:
            waiting.pop().done_at = position
        else:
            self._buffered[name].append(position)

    def _schedule(self, action: dict[str, Any]) -> Completion:
        """Schedule `action` (idempotently) and return when awaiting it finishes."""
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
        if kind == ActionType.CALL_HTTP:
            return self._http(action)
        if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return self._external_event(action)
        if kind in (ActionType.CALL_ENTITY, ActionType.SIGNAL_ENTITY):
            return self._entity(action, signal=kind == ActionType.SIGNAL_ENTITY)
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            children = [self._schedule(child) for child in action.get("compoundActions", [])]
            return _all(children) if kind == ActionType.WHEN_ALL else _any(children)
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

    def _activity(self, action: dict[str, Any]) -> Completion:
        name = action["functionName"]
        if name not in self._catalog.activities:
            self.result.unknown_calls.append(
                _unknown_function_message(name, "an activity", self._catalog.activities)
            )
            return _never
        return self._schedule_task(name, self._history_input(action), action.get("input"))

    def _schedule_task(
        self, name: str, history_input: str | None, input_text: str | None
    ) -> Completion:
        """An activity (or the built-in HTTP activity): the next event id and, unless it is a
        replay, its TaskScheduled event and work item."""
        task_id = self._next_id()
        if not self._check_replay(task_id, EventType.TASK_SCHEDULED, name):
            self.result.new_events.append(
                event(
                    EventType.TASK_SCHEDULED,
                    self._now,
                    task_id,
                    Name=name,
                    Version="",
                    Input=history_input,
                )
            )
            self.result.activities.append(ActivityCall(task_id, name, input_text))
        return _at(self._history.completed_at(task_id))

    def _sub_orchestration(self, action: dict[str, Any]) -> Completion:
        name = action["functionName"]
        if name not in self._catalog.orchestrators:
            self.result.unknown_calls.append(
                _unknown_function_message(name, "an orchestrator", self._catalog.orchestrators)
            )
            return _never
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
        return _at(self._history.completed_at(task_id))

    def _http(self, action: dict[str, Any]) -> Completion:
        """call_http: the extension's built-in activity, scheduled like any other."""
        try:
            input_text = http_activity.scheduled_input(action.get("httpRequest"))
        except http_activity.RequestRejected as exc:
            raise OrchestrationRejected(str(exc)) from exc
        history_input = input_text if self._store_inputs else None
        return self._schedule_task(http_activity.ACTIVITY_NAME, history_input, input_text)

    def _entity(self, action: dict[str, Any], *, signal: bool) -> Completion:
        """EventSent{op request} to `@name@key`; a call completes with the EventRaised named
        by the request id (the SDK re-keys the task by that id)."""
        target = action["instanceId"]
        name, _ = entity_wire.parse_scheduler_id(target)
        if name not in self._catalog.entities:
            message = entity_wire.unknown_entity_message(name, self._catalog.entities)
            if signal:  # the shim's synchronous SignalEntity throws: the orchestration fails
                raise OrchestrationRejected(message)
            self.result.unknown_calls.append(message)  # a call's task only faults: logged
            return _never
        task_id = self._next_id()
        counter = self._guid_counter
        self._guid_counter += 1
        sent = self._history.scheduled(task_id)
        if self._check_replay(task_id, EventType.EVENT_SENT, entity_wire.REQUEST_EVENT_NAME):
            recorded = json.loads((sent or {})["Input"])
            was = (sent or {}).get("InstanceId"), recorded.get("op")
            if was != (target, action["operation"]):
                raise OrchestrationRejected(
                    "Non-Deterministic workflow detected: a previous execution of this "
                    f"orchestration sent operation '{was[1]}' to entity '{was[0]}' with sequence "
                    f"number {task_id}, but the current replay sends '{action['operation']}' to "
                    f"'{target}'. Was a change made to the orchestrator code after this instance "
                    "had already started running?"
                )
            request_guid = recorded["id"]
        else:
            request_guid = entity_wire.request_id(self._instance_id, self._now, counter)
            message = entity_wire.request_message(
                action["operation"],
                entity_wire.orchestration_input(action.get("input")),
                request_guid,
                signal=signal,
                parent=self._instance_id,
                parent_execution=self._execution_id,
            )
            self.result.new_events.append(
                event(
                    EventType.EVENT_SENT,
                    self._now,
                    task_id,
                    InstanceId=target,
                    Name=entity_wire.REQUEST_EVENT_NAME,
                    Input=entity_wire.request_text(message),
                )
            )
            self.result.entity_requests.append((target, message))
        if signal:
            self._settled.add(task_id)
            return _at(self._cursor)  # fire and forget: the shim moves on at once
        answered_at = self._history.raised_at(request_guid)
        if answered_at is not None:
            self._settled.add(task_id)
        return _at(answered_at)

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

    def _timer(self, action: dict[str, Any]) -> Completion:
        timer_id = self._new_timer(parse_timestamp(action["fireAt"]))
        fired_at = self._history.completed_at(timer_id)
        if action.get("isCanceled") and fired_at is None:
            # Cancelling only forgets the task: the timer still fires later (and is ignored).
            self._cancelled.add(timer_id)
        return _at(fired_at)

    def _external_event(self, action: dict[str, Any]) -> Completion:
        """The wait starts where the shim is; an event that came earlier and nobody took
        completes it at once."""
        name = action["externalEventName"]
        while (
            self._delivered < len(self._events) and self._events[self._delivered][0] <= self._cursor
        ):
            self._deliver_next()
        waiter = _Waiter()
        if self._buffered[name]:
            self._buffered[name].popleft()
            waiter.done_at = self._cursor
        else:
            self._waiting[name].append(waiter)
        return lambda: waiter.done_at

    def _with_retry(self, action: dict[str, Any]) -> Completion:
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
            done_at = self._schedule(attempt_action)()
            if done_at is None:
                return _never
            outcome = self._history.completion(task_id)
            if outcome is not None and outcome["EventType"] not in FAILURE_TYPES:
                return _at(done_at)
            # DTFx's retry interceptor waits after every failed attempt, the last one included.
            timer_id = self._counter
            if self._history.scheduled(timer_id) is not None:
                self._new_timer(self._now)  # replay: the fire time is already recorded
            else:
                self._new_timer(self._now + interval)
            fired_at = self._history.completed_at(timer_id)
            if fired_at is None:
                return _never
            attempt += 1
            if attempt >= max_attempts:
                return _at(fired_at)
