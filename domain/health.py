"""Composes the health probe's report from dependency checks, with no SDK so it is unit-tested."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"

# A check's error is reported by exception class name only. Anything that does not look like a
# (dotted) Python identifier is replaced, so a message, URL or key can never reach the response.
_ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_UNKNOWN_ERROR = "Error"
# Logged messages keep their text but mask values that look like credentials.
_SECRET_VALUE = re.compile(r"(?i)\b(sig|accountkey|sharedaccesssignature|password)=[^&;\s]+")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of probing one dependency."""

    name: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def __post_init__(self) -> None:
        if self.error is not None and not _ERROR_NAME.fullmatch(self.error):
            object.__setattr__(self, "error", _UNKNOWN_ERROR)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "failed",
            "latencyMs": round(self.latency_ms, 1),
        }
        if not self.ok:
            body["error"] = self.error or _UNKNOWN_ERROR
        return body


@dataclass(frozen=True)
class HealthReport:
    """What GET /api/health returns: overall status, app version and one entry per check."""

    version: str
    checks: tuple[CheckResult, ...]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def status(self) -> str:
        return HEALTHY if self.healthy else UNHEALTHY

    @property
    def http_status(self) -> int:
        # 503 tells load balancers and availability tests to treat the instance as down.
        return 200 if self.healthy else 503

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "version": self.version,
            "checks": {check.name: check.to_dict() for check in self.checks},
        }


def compose_report(version: str, checks: Iterable[CheckResult]) -> HealthReport:
    """Build the report; check names must be unique because they key the `checks` object."""
    results = tuple(checks)
    names = [check.name for check in results]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate health check names: {names}")
    return HealthReport(version=version, checks=results)


def run_check(
    name: str,
    probe: Callable[[], None],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> CheckResult:
    """Run one probe and time it; a probe signals failure by raising.

    Catching every Exception is the point of a health check: the failure becomes data in the
    report (and a log line with the detail for operators) instead of a 500 from the endpoint.
    """
    started = clock()
    try:
        probe()
    except Exception as exc:
        elapsed_ms = (clock() - started) * 1000
        logger.warning("Health check %r failed after %.0f ms: %s", name, elapsed_ms, _describe(exc))
        return CheckResult(name=name, ok=False, latency_ms=elapsed_ms, error=type(exc).__name__)
    return CheckResult(name=name, ok=True, latency_ms=(clock() - started) * 1000)


def _describe(exc: BaseException) -> str:
    """Class and first line of the message, with anything that looks like a secret masked."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    masked = _SECRET_VALUE.sub(r"\1=***", lines[0])
    return f"{type(exc).__name__}: {masked}"
