"""Retries on durable timers with backoff and jitter; the SDK's RetryOptions retries every error."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from contextlib import suppress
from typing import Any, TypeVar

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from domain.failures import FailureKind, failure_kind, failure_reason
from domain.retry import RetryPolicy

logger = logging.getLogger(__name__)

K = TypeVar("K", int, str)


def call_activity_with_backoff(
    context: df.DurableOrchestrationContext,
    name: str,
    payload: Any,
    policy: RetryPolicy,
    *,
    seed: str | None = None,
    watch: Callable[[], TaskBase | None] | None = None,
) -> Generator[Any, Any, Any]:
    """Use as `result = yield from call_activity_with_backoff(context, name, payload, policy)`.

    Returns the activity's result; raises the activity's failure at once when it is permanent,
    or after `policy.max_attempts` attempts. The jitter is seeded by the instance id and the
    activity name (or `seed`), so every replay computes the same timers while instances that
    fail together still spread their retries apart.

    `watch` makes a task (e.g. a new wait for a cancellation, or None for no race) to race with
    each attempt, so its event is taken while the activity runs; the activity is still awaited
    to its end, because its side effect has to be known before anything can be undone.
    """
    jitter_seed = seed or f"{context.instance_id}:{name}"
    attempt = 1
    while True:
        try:
            task = context.call_activity(name, payload)
            rival = watch() if watch is not None else None
            if rival is not None:
                yield context.task_any([task, rival])
            return (yield task)
        except Exception as error:  # the SDK hands every activity failure over as Exception
            if failure_kind(error) is FailureKind.PERMANENT or attempt >= policy.max_attempts:
                raise
            delay = policy.delay(attempt, jitter_seed)
            if not context.is_replaying:
                logger.warning(
                    "%s attempt %d of %d failed (%s); retrying in %.1f s [instance %s]",
                    name,
                    attempt,
                    policy.max_attempts,
                    failure_reason(error),
                    delay.total_seconds(),
                    context.instance_id,
                )
            yield context.create_timer(context.current_utc_datetime + delay)
            attempt += 1


def call_activities_with_backoff(
    context: df.DurableOrchestrationContext,
    name: str,
    payloads: Mapping[K, Any],
    policy: RetryPolicy,
) -> Generator[Any, Any, dict[K, Any]]:
    """Fan-out/fan-in: `name` once per payload, all at once; the results by key, in the order of
    `payloads`. The ones that failed transiently are retried alone, together, after one backoff
    wait; a permanent failure, or running out of attempts, raises the first failure."""
    done: dict[K, Any] = {}
    pending = list(payloads)
    attempt = 1
    while True:
        tasks = {key: context.call_activity(name, payloads[key]) for key in pending}
        # task_all ends at the first failure; each task's own outcome is read below.
        with suppress(Exception):
            yield context.task_all(list(tasks.values()))
        failed: dict[K, Exception] = {}
        for key, task in tasks.items():
            try:  # waits for the ones still running, so every outcome is known
                done[key] = yield task
            except Exception as error:
                failed[key] = error
        if not failed:
            return {key: done[key] for key in payloads}
        permanent = [e for e in failed.values() if failure_kind(e) is FailureKind.PERMANENT]
        if permanent or attempt >= policy.max_attempts:
            raise (permanent or list(failed.values()))[0]
        delay = policy.delay(attempt, f"{context.instance_id}:{name}")
        if not context.is_replaying:
            logger.warning(
                "%s for %s failed (%s); retrying in %.1f s [instance %s]",
                name,
                sorted(failed),
                failure_reason(next(iter(failed.values()))),
                delay.total_seconds(),
                context.instance_id,
            )
        yield context.create_timer(context.current_utc_datetime + delay)
        pending = sorted(failed)
        attempt += 1
