"""The one transaction that records an episode, and the child instances it starts."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.durable.decisions import Episode
from devhost.durable.entity_store import enqueue_request
from devhost.durable.history import EventType, event, execution_started, format_timestamp
from devhost.durable.store import RUNNING_STATES, TERMINAL_STATES, Instance, Tx, WorkItem
from devhost.durable.walk import SubOrchestrationCall


@dataclass
class Committed:
    """What the engine must schedule once an episode is committed."""

    work_items: list[WorkItem]
    timers: list[tuple[float, str]]
    ready: list[str]
    entities: list[str] = field(default_factory=list)  # entities with new requests


def record_episode(
    tx: Tx,
    ep: Episode,
    history_len: int,
    now: datetime,
    new_execution: str | None,
    encoded: list[str] | None = None,
) -> Committed | None:
    """Write one episode: its history, consumed messages, timers, work items, children, the
    instance's new state and the notice to its parent. None when the instance was replaced or
    purged while the episode ran (its result is then moot). `encoded` is the events' JSON when
    the caller has it already."""
    current = tx.get_instance(ep.instance.instance_id)
    if current is None or current.execution_id != ep.instance.execution_id:
        return None
    inst = ep.instance
    now_epoch = now.timestamp()
    now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    tx.delete_messages(ep.consumed)
    result = Committed([], [], [])
    updated = Instance(**{**current.__dict__})
    updated.runtime_status = ep.status
    updated.custom_status = ep.custom_status
    updated.last_updated_time = now_text
    if ep.output is not None or ep.status in TERMINAL_STATES:
        updated.output = ep.output
    if new_execution is not None:
        tx.clear_execution(inst.instance_id)
        updated.execution_id = new_execution
        updated.input = json.dumps(ep.restart_input)
        updated.output = None
        started = execution_started(
            now,
            name=inst.name,
            instance_id=inst.instance_id,
            execution_id=new_execution,
            input_text=ep.restart_input,
            version=inst.version,
            parent=parent_info(current),
        )
        tx.enqueue(inst.instance_id, new_execution, started, now_epoch)
        result.ready.append(inst.instance_id)
    else:
        tx.append_history(inst.instance_id, history_len, ep.events, encoded)
        for timer in ep.walk.timers:
            fire_at = timer.fire_at.timestamp()
            fired = event(
                EventType.TIMER_FIRED,
                timer.fire_at,
                TimerId=timer.timer_id,
                FireAt=format_timestamp(timer.fire_at),
            )
            tx.enqueue(inst.instance_id, inst.execution_id, fired, fire_at)
            result.timers.append((fire_at, inst.instance_id))
        for call in ep.walk.activities:
            result.work_items.append(
                tx.add_work_item(
                    inst.instance_id,
                    inst.execution_id,
                    call.task_id,
                    call.name,
                    call.input_text,
                )
            )
        for sub in ep.walk.sub_orchestrations:
            create_child(tx, current, sub, now, result)
    # Entity requests go out even when the episode continues as new, as DTFx sends the
    # messages of an episode's last actions.
    for target, message in ep.walk.entity_requests:
        enqueue_request(tx, target, message)
        result.entities.append(target)
    tx.put_instance(updated)
    if ep.parent_notice is not None and current.parent_instance_id:
        tx.enqueue(
            current.parent_instance_id,
            current.parent_execution_id,
            ep.parent_notice,
            now_epoch,
        )
        result.ready.append(current.parent_instance_id)
    return result


def parent_info(inst: Instance) -> dict[str, Any] | None:
    if inst.parent_instance_id is None:
        return None
    return {
        "OrchestrationInstance": {
            "InstanceId": inst.parent_instance_id,
            "ExecutionId": inst.parent_execution_id,
        },
        "TaskScheduleId": inst.parent_task_id,
    }


def create_child(
    tx: Tx,
    parent: Instance,
    sub: SubOrchestrationCall,
    now: datetime,
    result: Committed,
) -> None:
    now_epoch = now.timestamp()
    now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    existing = tx.get_instance(sub.instance_id)
    if existing is not None and existing.runtime_status in RUNNING_STATES:
        failure = event(
            EventType.SUB_ORCHESTRATION_FAILED,
            now,
            TaskScheduledId=sub.task_id,
            Reason=(
                f"An orchestration with instance ID '{sub.instance_id}' already exists "
                f"and is {existing.runtime_status}."
            ),
            Details=None,
        )
        tx.enqueue(parent.instance_id, parent.execution_id, failure, now_epoch)
        result.ready.append(parent.instance_id)
        return
    if existing is not None:
        tx.delete_instance(sub.instance_id)
    execution_id = uuid.uuid4().hex
    child = Instance(
        instance_id=sub.instance_id,
        name=sub.name,
        version=sub.version,
        execution_id=execution_id,
        runtime_status="Pending",
        input=json.dumps(sub.input_text),
        output=None,
        custom_status=None,
        created_time=now_text,
        last_updated_time=now_text,
        parent_instance_id=parent.instance_id,
        parent_execution_id=parent.execution_id,
        parent_task_id=sub.task_id,
    )
    tx.put_instance(child)
    started = execution_started(
        now,
        name=sub.name,
        instance_id=sub.instance_id,
        execution_id=execution_id,
        input_text=sub.input_text,
        version=sub.version,
        parent=parent_info(child),
    )
    tx.enqueue(sub.instance_id, execution_id, started, now_epoch)
    result.ready.append(sub.instance_id)
