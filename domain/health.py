"""Composes the health probe's report from dependency checks, with no SDK so it is unit-tested."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from domain.payload import Model

logger = logging.getLogger(__name__)

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
OK = "ok"
FAILED = "failed"

# A check's error is reported by exception class name only. Anything that does not look like a
# (dotted) Python identifier is replaced, so a message, URL or key can never reach the response.
_ERROR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_UNKNOWN_ERROR = "Error"
# Logged messages keep their text but mask values that look like credentials.
_SECRET_VALUE = re.compile(r"(?i)\b(sig|accountkey|sharedaccesssignature|password)=[^&;\s]+")


def _class_name_only(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(_ERROR_NAME, value):
        return _UNKNOWN_ERROR
    return value


ErrorName = Annotated[
    str,
    BeforeValidator(_class_name_only),
    Field(pattern=_ERROR_NAME, description="The error's class name only, never its message."),
]
Latency = Annotated[
    float,
    Field(ge=0, description="How long the check took, in milliseconds (to a tenth)."),
    AfterValidator(lambda milliseconds: round(milliseconds, 1)),
]


class HealthCheck(Model):
    """The outcome of probing one dependency, as the report shows it."""

    # The body's member is camelCase (`latencyMs`); Python code uses `latency_ms`.
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    status: Literal["ok", "failed"]
    latency_ms: Annotated[Latency, Field(alias="latencyMs")]
    error: ErrorName | None = None

    @model_validator(mode="after")
    def _error_only_when_failed(self) -> HealthCheck:
        if (self.status == FAILED) != (self.error is not None):
            raise ValueError("error: a failed check names its error, a passed one has none")
        return self

    @classmethod
    def passed(cls, latency_ms: float) -> HealthCheck:
        return cls(status=OK, latency_ms=latency_ms)

    @classmethod
    def failed(cls, latency_ms: float, error: str | None = None) -> HealthCheck:
        return cls(status=FAILED, latency_ms=latency_ms, error=error or _UNKNOWN_ERROR)

    @property
    def ok(self) -> bool:
        return self.status == OK


class HealthReport(Model):
    """What GET /api/health returns: overall status, app version and one entry per check."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    status: Literal["healthy", "unhealthy"]
    version: str
    checks: Annotated[
        dict[str, HealthCheck], Field(description="One entry per dependency, by its name.")
    ]

    @model_validator(mode="after")
    def _status_follows_the_checks(self) -> HealthReport:
        expected = HEALTHY if all(check.ok for check in self.checks.values()) else UNHEALTHY
        if self.status != expected:
            raise ValueError("status: unhealthy exactly when a check failed")
        return self

    @property
    def http_status(self) -> int:
        # 503 tells load balancers and availability tests to treat the instance as down.
        return 200 if self.status == HEALTHY else 503


def compose_report(version: str, checks: Iterable[tuple[str, HealthCheck]]) -> HealthReport:
    """Build the report; check names must be unique because they key the `checks` object."""
    results = list(checks)
    names = [name for name, _ in results]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate health check names: {names}")
    healthy = all(check.ok for _, check in results)
    return HealthReport(
        status=HEALTHY if healthy else UNHEALTHY, version=version, checks=dict(results)
    )


def run_check(
    name: str,
    probe: Callable[[], None],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[str, HealthCheck]:
    """Run one probe and time it; a probe signals failure by raising. Returns (name, check).

    Catching every Exception is the point of a health check: the failure becomes data in the
    report (and a log line with the detail for operators) instead of a 500 from the endpoint.
    """
    started = clock()
    try:
        probe()
    except Exception as exc:
        elapsed_ms = (clock() - started) * 1000
        logger.warning("Health check %r failed after %.0f ms: %s", name, elapsed_ms, _describe(exc))
        return name, HealthCheck.failed(elapsed_ms, type(exc).__name__)
    return name, HealthCheck.passed((clock() - started) * 1000)


def _describe(exc: BaseException) -> str:
    """Class and first line of the message, with anything that looks like a secret masked."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    masked = _SECRET_VALUE.sub(r"\1=***", lines[0])
    return f"{type(exc).__name__}: {masked}"
