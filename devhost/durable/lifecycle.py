"""Suspend, resume, rewind and restart: the instance lifecycle the extension offers beyond start.

Suspend and resume travel as inbox messages (ExecutionSuspended, ExecutionResumed), so they
are ordered with everything else an instance receives and recorded by an episode. While an
instance is Suspended, its episodes keep every other message in the inbox, except a
termination; resuming delivers them. Rewind rewrites a Failed instance's history so that its
failed calls are made again (see `rewound_history`). Restart starts the same orchestrator
with the stored input.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from devhost.durable import entity_store
from devhost.durable.decisions import Episode
from devhost.durable.errors import DurableError, InstanceGone, InstanceNotFound
from devhost.durable.history import (
    FAILURE_TYPES,
    EventType,
    event,
    orchestrator_completed,
    orchestrator_started,
    parse_timestamp,
)
from devhost.durable.store import TERMINAL_STATES, InboxMessage, Instance, Tx

if TYPE_CHECKING:
    from devhost.durable.engine import DurableEngine

log = logging.getLogger("devhost.durable")

MARKERS = frozenset({EventType.EXECUTION_SUSPENDED, EventType.EXECUTION_RESUMED})
# DurableClient.IsOrchestrationSuspendable: what suspend accepts; resume needs Suspended.
SUSPENDABLE = frozenset({"Running", "Pending", "ContinuedAsNew"})


class InvalidOperation(DurableError):
    """The client refuses the operation in this state; HttpApiHandler turns it into a 500."""

    status = 500
    exception_type = "System.InvalidOperationException"


class RestartNotFound(DurableError):
    """RestartAsync's ArgumentException, which HttpApiHandler answers with a 400."""

    status = 400


# -- suspension: which messages an episode takes -----------------------------------------------


@dataclass
class Gate:
    """The messages one episode delivers, and what suspension leaves for later."""

    delivered: list[InboxMessage]
    held: set[int] = field(default_factory=set)
    suspended: bool = False

    @property
    def markers_only(self) -> bool:
        return all(m.event["EventType"] in MARKERS for m in self.delivered)


def gate_messages(inst: Instance, messages: list[InboxMessage]) -> Gate:
    """Split an episode's messages by suspension, in inbox order.

    Messages that arrive while the instance is suspended stay in the inbox until a resume;
    a termination is always delivered (DTFx lets ExecutionTerminated override suspension) and
    then takes everything with it. A suspend of a suspended instance, or a resume of a
    running one, that got past the client's check (two requests racing) is dropped.
    """
    suspended = inst.runtime_status == "Suspended"
    kinds = [m.event["EventType"] for m in messages]
    if not suspended and not MARKERS.intersection(kinds):
        return Gate(list(messages))
    if EventType.EXECUTION_TERMINATED in kinds:
        return Gate(list(messages), suspended=suspended)
    gate = Gate([])
    waiting: list[InboxMessage] = []
    for message in messages:
        kind = message.event["EventType"]
        if kind == EventType.EXECUTION_SUSPENDED:
            if not suspended:
                suspended = True
                gate.delivered.append(message)
        elif kind == EventType.EXECUTION_RESUMED:
            if suspended:
                suspended = False
                gate.delivered.append(message)
                gate.delivered.extend(waiting)
                waiting = []
        elif suspended:
            waiting.append(message)
        else:
            gate.delivered.append(message)
    gate.held = {m.id for m in waiting}
    gate.suspended = suspended
    return gate


def marker_episode(
    inst: Instance,
    consumed: list[int],
    at: datetime,
    markers: list[dict[str, Any]],
    suspended: bool,
) -> Episode:
    """An episode that only records suspend/resume: the orchestrator has nothing new to see."""
    events = [orchestrator_started(at), *markers, orchestrator_completed(at)]
    status = "Suspended" if suspended else "Running"
    log.info("Orchestration '%s' (%s) %s", inst.name, inst.instance_id, status.lower())
    return Episode(inst, consumed, events, status, custom_status=inst.custom_status)


def apply_suspension(decision: Episode, gate: Gate) -> None:
    """An instance suspended in this episode stays Suspended unless it also finished."""
    if gate.suspended and decision.status == "Running":
        decision.status = "Suspended"


# -- rewind: the history rewrite ----------------------------------------------------------------


@dataclass
class Rewound:
    """A failed execution's history with its failures taken out, and what must happen next."""

    events: list[dict[str, Any]]
    # Children whose completion the parent has not recorded (the failed ones among them, whose
    # SubOrchestrationInstanceCreated stays so they are rewound): instance id by task id.
    open_children: dict[int, str]
    # Activity tasks still scheduled without a completion, and timers not fired yet.
    open_activities: set[int]
    open_timers: dict[int, str]


_SCHEDULING = (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_CREATED)
_SUCCESS = (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED)


class _Failures:
    """Reads a failed execution: failed calls, and the retry chains they belong to."""

    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history = history
        self.scheduled: dict[int, tuple[int, dict[str, Any]]] = {}
        self.failed: dict[int, int] = {}
        self.succeeded: set[int] = set()
        self.fired: dict[int, int] = {}
        for position, ev in enumerate(history):
            kind = ev["EventType"]
            if kind in _SCHEDULING:
                self.scheduled[ev["EventId"]] = (position, ev)
            elif kind in FAILURE_TYPES:
                self.failed.setdefault(ev["TaskScheduledId"], position)
            elif kind in _SUCCESS:
                self.succeeded.add(ev["TaskScheduledId"])
            elif kind == EventType.TIMER_FIRED:
                self.fired.setdefault(ev["TimerId"], position)

    def retry_timer(self, task_id: int) -> int | None:
        """The timer DTFx's retry interceptor creates after a failed attempt: the next id, in
        the episode that recorded the failure."""
        for ev in self.history[self.failed[task_id] + 1 :]:
            kind = ev["EventType"]
            if kind == EventType.ORCHESTRATOR_COMPLETED:
                return None
            if kind == EventType.TIMER_CREATED and ev["EventId"] == task_id + 1:
                return task_id + 1
        return None

    def next_attempt(self, task_id: int, timer_id: int) -> int | None:
        """The attempt the retry interceptor scheduled once `timer_id` fired, if any."""
        candidate = self.scheduled.get(timer_id + 1)
        first = self.scheduled.get(task_id)
        if candidate is None or first is None or timer_id not in self.fired:
            return None
        position, ev = candidate
        same_call = ev["EventType"] == first[1]["EventType"] and ev.get("Name") == first[1].get(
            "Name"
        )
        return timer_id + 1 if same_call and position > self.fired[timer_id] else None

    def to_rewind(self) -> tuple[set[int], set[int]]:
        """(calls to make again, event ids to forget).

        A plain failed call is made again. A retry chain that ended in failure is made again
        from its first attempt: its later attempts and retry timers are forgotten, so the
        event ids the SDK and the walk assign line up again. A chain that succeeded, or was
        still retrying when the instance failed, is left as it is.
        """
        again: set[int] = set()
        forget: set[int] = set()
        in_chain: set[int] = set()
        for first in sorted(self.failed):
            if first in in_chain:
                continue
            attempts, timers, current, outcome = [first], [], first, "failed"
            while (timer := self.retry_timer(current)) is not None:
                timers.append(timer)
                following = self.next_attempt(current, timer)
                if following is None:
                    break
                in_chain.add(following)
                if following not in self.failed:
                    outcome = "succeeded" if following in self.succeeded else "open"
                    break
                attempts.append(following)
                current = following
            if outcome == "failed":
                again.add(first)
                forget.update(attempts[1:])
                forget.update(timers)
        return again, forget


def rewound_history(history: list[dict[str, Any]]) -> Rewound:
    """The history a rewound execution continues from.

    As DTFx's rewind (ProcessRewindOrchestrationDecision, and Azure Storage's
    RewindHistoryAsync): the failure events and ExecutionCompleted go; a failed activity's
    TaskScheduled goes too, so the replay schedules it again with the same event id; a failed
    sub-orchestration's SubOrchestrationInstanceCreated stays and the child is rewound. Unlike
    DTFx, the extra attempts and timers of a retry chain that failed are forgotten as well:
    left in place they shift every later event id and the SDK would hand a stale retry timer
    to the next task.
    """
    failures = _Failures(history)
    again, forget = failures.to_rewind()
    gone = again | forget
    events: list[dict[str, Any]] = []
    for ev in history:
        kind = ev["EventType"]
        if kind == EventType.EXECUTION_COMPLETED:
            continue
        if kind in FAILURE_TYPES and ev["TaskScheduledId"] in gone:
            continue
        if kind == EventType.TASK_SCHEDULED and ev["EventId"] in gone:
            continue
        if kind == EventType.SUB_ORCHESTRATION_CREATED and ev["EventId"] in forget:
            continue
        if kind == EventType.TIMER_CREATED and ev["EventId"] in forget:
            continue
        if kind == EventType.TIMER_FIRED and ev["TimerId"] in forget:
            continue
        events.append(ev)
    completed = {
        ev["TaskScheduledId"] for ev in events if ev["EventType"] in (*_SUCCESS, *FAILURE_TYPES)
    }
    fired = {ev["TimerId"] for ev in events if ev["EventType"] == EventType.TIMER_FIRED}
    open_activities = {
        ev["EventId"]
        for ev in events
        if ev["EventType"] == EventType.TASK_SCHEDULED and ev["EventId"] not in completed
    }
    open_children = {
        ev["EventId"]: ev["InstanceId"]
        for ev in events
        if ev["EventType"] == EventType.SUB_ORCHESTRATION_CREATED and ev["EventId"] not in completed
    }
    open_timers = {
        ev["EventId"]: ev["FireAt"]
        for ev in events
        if ev["EventType"] == EventType.TIMER_CREATED and ev["EventId"] not in fired
    }
    return Rewound(events, open_children, open_activities, open_timers)


def _without(events: list[dict[str, Any]], kind: EventType, ids: set[int]) -> list[dict[str, Any]]:
    return [ev for ev in events if not (ev["EventType"] == kind and ev["EventId"] in ids)]


def _unanswered_entity_calls(
    tx: Tx, events: list[dict[str, Any]], inbox: list[InboxMessage]
) -> set[int]:
    """Event ids of entity calls (not signals) whose reply is nowhere: not in the history, not
    queued for the instance, and the request no longer waiting for its entity."""
    raised = [*events, *(m.event for m in inbox)]
    replied = {ev.get("Name") for ev in raised if ev["EventType"] == EventType.EVENT_RAISED}
    pending = entity_store.pending_request_ids(tx)
    lost: set[int] = set()
    for ev in events:
        if ev["EventType"] != EventType.EVENT_SENT:
            continue
        request = json.loads(ev.get("Input") or "{}")
        if request.get("signal") or request.get("id") in replied | pending:
            continue
        lost.add(ev["EventId"])
    return lost


def rewind_instance(tx: Tx, instance_id: str, reason: str | None, at: datetime) -> list[str]:
    """Rewind one Failed instance and its failed children in this transaction; returns the
    instances whose history changed (each gets a message that makes it run again)."""
    inst = tx.get_instance(instance_id)
    if inst is None or inst.runtime_status != "Failed":
        return []
    plan = rewound_history(tx.load_history(instance_id))
    events = plan.events
    # Completions that arrived while the instance was Failed were dropped: make those calls
    # again (activities), deliver them again (timers, finished children), or start the child
    # afresh when it can no longer answer (terminated or purged).
    inbox = tx.ready_messages(instance_id, float("inf"))
    queued = {
        (m.event["EventType"], m.event.get("TaskScheduledId", m.event.get("TimerId"))): m.id
        for m in inbox
    }
    working = {w.task_id for w in tx.all_work_items() if w.instance_id == instance_id}
    lost = {
        task_id
        for task_id in plan.open_activities
        if task_id not in working
        and (EventType.TASK_COMPLETED, task_id) not in queued
        and (EventType.TASK_FAILED, task_id) not in queued
    }
    events = _without(events, EventType.TASK_SCHEDULED, lost)
    restart_children: set[int] = set()
    children: list[str] = []
    for task_id, child_id in plan.open_children.items():
        child = tx.get_instance(child_id)
        failure = queued.get((EventType.SUB_ORCHESTRATION_FAILED, task_id))
        if (EventType.SUB_ORCHESTRATION_COMPLETED, task_id) in queued:
            continue  # delivered by the next episode
        if child is not None and child.runtime_status == "Failed":
            children.append(child_id)
            if failure is not None:  # not dropped yet: the child's rewind replaces it
                tx.delete_messages([failure])
        elif failure is not None:
            continue
        elif child is not None and child.runtime_status == "Completed":
            done = event(
                EventType.SUB_ORCHESTRATION_COMPLETED,
                at,
                TaskScheduledId=task_id,
                Result=child.output,
            )
            tx.enqueue(instance_id, inst.execution_id, done, at.timestamp())
        elif child is None or child.is_terminal:
            restart_children.add(task_id)
    events = _without(events, EventType.SUB_ORCHESTRATION_CREATED, restart_children)
    for timer_id, fire_at in plan.open_timers.items():
        if (EventType.TIMER_FIRED, timer_id) not in queued:
            moment = parse_timestamp(fire_at)
            fired = event(EventType.TIMER_FIRED, moment, TimerId=timer_id, FireAt=fire_at)
            tx.enqueue(instance_id, inst.execution_id, fired, moment.timestamp())
    # Entity calls whose reply was dropped while the instance was Failed: without their
    # EventSent the replay sends them again. A reply still queued, or a request the entity has
    # not run yet, answers the original call, so those stay.
    events = _without(events, EventType.EVENT_SENT, _unanswered_entity_calls(tx, events, inbox))
    tx.replace_history(instance_id, events)
    now_text = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    inst.runtime_status = "Pending"  # as Azure Storage's UpdateStatusForRewindAsync
    inst.output = None
    inst.last_updated_time = now_text
    tx.put_instance(inst)
    # Azure Storage wakes a rewound instance with a GenericEvent carrying the reason.
    revive = event(EventType.GENERIC, at, Data=reason or "")
    tx.enqueue(instance_id, inst.execution_id, revive, at.timestamp())
    rewound = [instance_id]
    for child_id in children:
        rewound.extend(rewind_instance(tx, child_id, reason, at))
    return rewound


# -- list pages -----------------------------------------------------------------------------------


def page(instances: list[Instance], top: int, token: str) -> tuple[list[Instance], str]:
    """One page of a query ordered by (created time, id) and the token of the next one.

    The token names the last instance returned, not an offset, so instances created or
    purged between two requests neither repeat nor go missing from the pages that follow.
    """
    if top < 1:
        raise ValueError("top must be a positive number")
    after: tuple[str, str] | None = None
    if token:
        created, _, instance_id = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        after = (created, instance_id)
    rest = [i for i in instances if after is None or (i.created_time, i.instance_id) > after]
    chosen = rest[:top]
    if len(rest) <= top or not chosen:
        return chosen, ""
    last = chosen[-1]
    next_token = base64.urlsafe_b64encode(f"{last.created_time}|{last.instance_id}".encode())
    return chosen, next_token.decode()


# -- client operations ----------------------------------------------------------------------------


class Lifecycle:
    """The client operations the durable HTTP API exposes for suspend, resume, rewind, restart."""

    def __init__(self, engine: DurableEngine) -> None:
        self.engine = engine

    async def _signal(self, instance_id: str, kind: EventType, reason: str | None) -> None:
        clock = self.engine.clock
        now_epoch = clock.now()
        verb = "suspend" if kind == EventType.EXECUTION_SUSPENDED else "resume"

        def send(tx: Tx) -> None:
            inst = tx.get_instance(instance_id)
            if inst is None:
                raise InstanceNotFound(f"No instance with ID '{instance_id}' found.")
            if inst.is_terminal:
                raise InstanceGone(f"The instance '{instance_id}' is {inst.runtime_status}.")
            allowed = SUSPENDABLE if verb == "suspend" else {"Suspended"}
            if inst.runtime_status not in allowed:
                raise InvalidOperation(
                    f"Cannot {verb} the orchestration instance {instance_id} because instance "
                    f"is in the {inst.runtime_status} state."
                )
            tx.enqueue(
                instance_id, None, event(kind, clock.now_datetime(), Reason=reason), now_epoch
            )

        await self.engine.store.run(send)
        self.engine.instances_changed([instance_id])
        log.info("Orchestration %s: %s requested (%s)", instance_id, verb, reason or "no reason")

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._signal(instance_id, EventType.EXECUTION_SUSPENDED, reason)

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._signal(instance_id, EventType.EXECUTION_RESUMED, reason)

    async def rewind(self, instance_id: str, reason: str | None) -> list[str]:
        at = self.engine.clock.now_datetime()

        def rewind(tx: Tx) -> list[str]:
            inst = tx.get_instance(instance_id)
            if inst is None:
                raise InstanceNotFound(f"No instance with ID '{instance_id}' found.")
            if inst.runtime_status in TERMINAL_STATES - {"Failed"}:
                raise InstanceGone(f"The instance '{instance_id}' is {inst.runtime_status}.")
            if inst.runtime_status != "Failed":
                raise InvalidOperation(
                    "The rewind operation is only supported on failed orchestration instances."
                )
            return rewind_instance(tx, instance_id, reason, at)

        rewound = await self.engine.store.run(rewind)
        self.engine.instances_changed(rewound, history_rewritten=True)
        log.info("Rewound %s (%s)", ", ".join(rewound), reason or "no reason")
        return rewound

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        inst = await self.engine.get_instance(instance_id)
        if inst is None:
            raise RestartNotFound(
                f"An orchestrastion with the instanceId {instance_id} was not found."
            )
        original = json.loads(inst.input) if inst.input is not None else None
        # RestartAsync calls StartNewAsync(name, id, input): no version, so the default one.
        return await self.engine.start_new(
            inst.name, None if new_instance_id else instance_id, original
        )


def reason_of(raw_query: str) -> str | None:
    """The `reason` query value: the SDK sends it unencoded or quoted, '+' or %20 for spaces."""
    for part in raw_query.split("&"):
        key, _, value = part.partition("=")
        if key == "reason":
            return unquote_plus(value) or None
    return None
