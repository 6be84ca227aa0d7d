"""The extension's suspend, resume, rewind and restart endpoints (HttpApiHandler)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devhost.durable.errors import DurableError, InstanceAlreadyRunning
from devhost.durable.lifecycle import InvalidOperation, Lifecycle, RestartNotFound, reason_of

INSTANCE = "/instances/{instance_id}"


def _failure(exc: DurableError) -> web.Response:
    """HttpApiHandler's answers: 404 and 410 have no body; the rest are its error bodies."""
    if exc.status in (404, 410):
        return web.Response(status=exc.status)
    if isinstance(exc, RestartNotFound):
        body = {
            "Message": "InstanceId does not match a valid orchestration instance.",
            "ExceptionMessage": str(exc),
            "ExceptionType": "System.ArgumentException",
            "StackTrace": "",
        }
    elif isinstance(exc, InvalidOperation | InstanceAlreadyRunning):
        body = {
            "Message": "Something went wrong while processing your request",
            "ExceptionMessage": str(exc),
            "ExceptionType": exc.exception_type,
            "StackTrace": "",
        }
    else:
        body = {
            "Message": "One or more of the arguments submitted is incorrect",
            "ExceptionMessage": str(exc),
        }
    return web.json_response(body, status=exc.status)


Payload = Callable[[str, str | None], dict[str, Any]]
Wait = Callable[[web.Request, str, dict[str, Any]], Awaitable[web.Response]]


class LifecycleApi:
    """aiohttp handlers. `payload` builds the management URLs for an id and request origin;
    `wait` answers as the create-and-wait URL does when `timeout` and `pollingInterval` are set."""

    def __init__(self, lifecycle: Lifecycle, payload: Payload, wait: Wait) -> None:
        self.lifecycle = lifecycle
        self.payload = payload
        self.wait = wait

    def routes(self, prefix: str) -> list[web.RouteDef]:
        base = prefix + INSTANCE
        return [
            web.post(base + "/suspend", self.suspend),
            web.post(base + "/resume", self.resume),
            web.post(base + "/rewind", self.rewind),
            web.post(base + "/restart", self.restart),
        ]

    async def suspend(self, request: web.Request) -> web.Response:
        return await self._accepted(request, self.lifecycle.suspend)

    async def resume(self, request: web.Request) -> web.Response:
        return await self._accepted(request, self.lifecycle.resume)

    async def rewind(self, request: web.Request) -> web.Response:
        return await self._accepted(request, self.lifecycle.rewind)

    async def _accepted(self, request: web.Request, operation: Callable[..., Any]) -> web.Response:
        reason = reason_of(request.rel_url.raw_query_string)
        try:
            await operation(request.match_info["instance_id"], reason)
        except DurableError as exc:
            return _failure(exc)
        return web.Response(status=202)

    async def restart(self, request: web.Request) -> web.Response:
        """202 with the new instance's check-status payload (CreateCheckStatusResponse)."""
        flag = request.query.get("restartWithNewInstanceId", "true").strip().lower()
        if flag not in ("true", "false"):
            flag = "true"  # TryGetBooleanQueryParameterValue fails: RestartAsync's default
        try:
            instance_id = await self.lifecycle.restart(
                request.match_info["instance_id"], new_instance_id=flag == "true"
            )
        except DurableError as exc:
            return _failure(exc)
        payload = self.payload(instance_id, f"{request.scheme}://{request.host}")
        if "timeout" in request.query and "pollingInterval" in request.query:
            return await self.wait(request, instance_id, payload)
        return web.json_response(
            payload,
            status=202,
            headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"},
        )
