"""The refusals the extension's HTTP API answers with, and the instance id rules it enforces."""

from __future__ import annotations

import re

_BAD_ID = re.compile(r"[\\/#?\x00-\x1f\x7f]")


class DurableError(Exception):
    """A client request the extension would refuse; `status` is the HTTP status it uses."""

    status = 400


class UnknownOrchestrator(DurableError):
    status = 400


class InvalidInstanceId(DurableError):
    status = 400


class InstanceAlreadyRunning(DurableError):
    """The extension lets DTFx's OrchestrationAlreadyExistsException become a 500."""

    status = 500
    exception_type = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"


class InstanceNotFound(DurableError):
    status = 404


class InstanceGone(DurableError):
    status = 410


def validate_instance_id(instance_id: str) -> None:
    if not instance_id or len(instance_id) > 256:
        raise InvalidInstanceId("Instance ID must be between 1 and 256 characters long.")
    if instance_id.startswith("@"):
        raise InvalidInstanceId(f"Instance ID '{instance_id}' must not start with '@'.")
    if _BAD_ID.search(instance_id):
        raise InvalidInstanceId(
            f"Instance ID '{instance_id}' contains invalid characters ('/', '\\', '#', '?' "
            "or control characters)."
        )
