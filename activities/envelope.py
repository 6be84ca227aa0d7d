"""One envelope for every activity: the job's ids on a span and log lines, failures labelled."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import azure.functions as func

from adapters.errors import storage_errors
from adapters.telemetry import job_span
from domain.failures import JobFailure, PermanentFailure
from domain.payload import InvalidPayload, Model, read

A = TypeVar("A")
In = TypeVar("In", bound=Model)
Step = Callable[[In, A], Model]
Enveloped = Callable[[Any, A], dict[str, Any]]


@dataclass(frozen=True)
class JobIds:
    """Whom one activity call works for: its span's attributes and its log lines' label."""

    job_type: str
    instance_id: str | None
    correlation_id: str | None
    label: str  # ids only ("order o-1"): never a name, a URL or a body
    attributes: Mapping[str, str | int] = field(default_factory=dict)


def no_known_failures(error: Exception) -> JobFailure | None:
    return None


class ActivityBlueprint(func.Blueprint, Generic[A]):
    """One job's activities: each gets the job's adapters, ids and failure mapping.

    `@bp.activity(RECORD_ORDER, RecordOrderInput)` on `def record_order(step, adapters)`
    registers the function named RECORD_ORDER (the name is a contract), which builds the
    adapters and runs the step in the envelope; `record_order` becomes that envelope with the
    adapters passed in, `record_order(payload, adapters)`, which is how tests call it.
    """

    def __init__(
        self,
        *,
        adapters: Callable[[], A],
        ids: Callable[[Any], JobIds],
        failures: Callable[[Exception], JobFailure | None] = no_known_failures,
    ) -> None:
        super().__init__()
        self._adapters, self._ids, self._failures = adapters, ids, failures

    def activity(self, name: str, model: type[In]) -> Callable[[Step[In, A]], Enveloped[A]]:
        """Register `step` as the activity `name`, reading its input as `model`."""

        def register(step: Step[In, A]) -> Enveloped[A]:
            if step.__name__ != name:  # a constant on the wrong step fails here, at import
                raise ValueError(f"activity {name} is registered on {step.__name__}")

            def trigger(payload: dict[str, Any]) -> dict[str, Any]:
                return self._run(name, model, step, payload, self._adapters)

            trigger.__name__ = trigger.__qualname__ = name
            self.activity_trigger(input_name="payload")(trigger)

            def run(payload: Any, adapters: A) -> dict[str, Any]:
                return self._run(name, model, step, payload, lambda: adapters)

            return functools.wraps(
                step, assigned=("__module__", "__name__", "__qualname__", "__doc__")
            )(run)

        return register

    def _run(
        self,
        name: str,
        model: type[In],
        step: Step[In, A],
        payload: Any,
        adapters: Callable[[], A],
    ) -> dict[str, Any]:
        logger = logging.getLogger(step.__module__)
        try:
            request = read(model, payload)
        except InvalidPayload as error:  # the same input fails the same way every time
            logger.error("%s refused its input: %s", name, error)
            raise PermanentFailure(f"invalid {name} input: {error}") from error
        ids = self._ids(request)
        where = f"{ids.label} [correlation {ids.correlation_id or '-'}]"
        logger.info("%s started for %s", name, where)
        started = time.perf_counter()
        try:
            with (
                job_span(
                    name,
                    job_type=ids.job_type,
                    instance_id=ids.instance_id,
                    correlation_id=ids.correlation_id,
                    **ids.attributes,
                ),
                storage_errors(name),
            ):
                result = step(request, _built(name, adapters))
        except JobFailure as error:
            logger.warning("%s failed for %s: %s", name, where, error)
            raise
        except Exception as error:
            failure = self._failures(error)
            if failure is None:
                logger.exception("%s failed unexpectedly for %s", name, where)
                raise
            logger.warning("%s failed for %s: %s", name, where, failure)
            raise failure from error
        logger.info("%s done for %s in %.0f ms", name, where, (time.perf_counter() - started) * 1e3)
        return result.dump()


def _built(name: str, adapters: Callable[[], A]) -> A:
    # Built on first use (inside storage_errors: unreachable storage is transient then too).
    try:
        return adapters()
    except ValueError as error:  # a missing or invalid setting: no retry can fix it
        raise PermanentFailure(f"{name} is not configured: {error}") from error
