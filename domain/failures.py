"""Transient or permanent, written into the failure's message: the Durable Python SDK hands the
orchestrator an activity's failure as a plain Exception that carries only the message."""

from __future__ import annotations

import re
from enum import StrEnum


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


_MARKER = re.compile(r"\[(transient|permanent)\]")


class JobFailure(Exception):
    """Raised by activities; the message starts with its kind so orchestrators can read it."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(f"[{kind}] {reason}")
        self.kind = kind
        self.reason = reason


class PermanentFailure(JobFailure):
    """Retrying cannot help (bad input, payment declined, unknown product)."""

    def __init__(self, reason: str) -> None:
        super().__init__(FailureKind.PERMANENT, reason)


class TransientFailure(JobFailure):
    """Retrying may help (a timeout, throttling, a conflict)."""

    def __init__(self, reason: str) -> None:
        super().__init__(FailureKind.TRANSIENT, reason)


def failure_kind(error: BaseException | str) -> FailureKind:
    """The kind a failure message carries; unlabelled failures count as transient."""
    match = _MARKER.search(str(error))
    return FailureKind(match.group(1)) if match else FailureKind.TRANSIENT


def failure_reason(error: BaseException | str) -> str:
    """The activity's own reason, without the host's wrapping and details."""
    text = str(error)
    match = _MARKER.search(text)
    if not match:
        return text.split(" \n ", 1)[0]
    return text[match.end() :].split(" \n ", 1)[0].strip()
