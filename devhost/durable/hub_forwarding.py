"""Durable API requests for another task hub go to the devhost that hosts it, unchanged.

In Azure every app's extension reaches any hub in the shared storage account. Here one devhost
process holds one hub's state, so a request naming another hub (`taskHub=`) is forwarded to the
devhost DEVHOST_TASK_HUBS names for it. The Host header goes along, so the management URLs that
devhost builds point back at the devhost the caller used, with `taskHub` set, as in Azure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from devhost.durable.task_hubs import TASK_HUBS_SETTING, TaskHubPeer, TaskHubs, requested_task_hub

log = logging.getLogger("devhost.durable")

# Marks a forwarded request: it is never forwarded again, so a wrong mapping cannot loop.
FORWARDED_HEADER = "X-Devhost-Forwarded-Task-Hub"
# Hop-by-hop headers, and those each side sets itself (the body's length, Date, Server).
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "date",
        "server",
    }
)
_CONNECT_SECONDS = 10

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _message(status: int, text: str) -> web.Response:
    """An error in the extension's shape for statuses other than 400 and 500: only "Message"."""
    return web.json_response({"Message": text}, status=status)


def _headers(headers: Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    """The end-to-end headers, repeated ones kept."""
    return CIMultiDict((k, v) for k, v in headers if k.lower() not in _NOT_FORWARDED)


class TaskHubForwarding:
    """An aiohttp middleware for the paths under `webhook_path`."""

    def __init__(self, hubs: TaskHubs, webhook_path: str) -> None:
        self.hubs = hubs
        self.webhook_path = webhook_path
        self._session: aiohttp.ClientSession | None = None

    def _is_durable_api(self, path: str) -> bool:
        return path == self.webhook_path or path.startswith(self.webhook_path + "/")

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._is_durable_api(request.path):
            return await handler(request)
        hub = requested_task_hub(request.query.items())
        if self.hubs.is_own(hub):
            return await handler(request)
        assert hub is not None
        if FORWARDED_HEADER in request.headers:
            return _message(
                502,
                f"This devhost hosts task hub '{self.hubs.own}', not '{hub}', but the devhost "
                f"hosting '{request.headers[FORWARDED_HEADER]}' forwarded a request for '{hub}' "
                f"to it: correct '{hub}' in that devhost's {TASK_HUBS_SETTING}",
            )
        peer = self.hubs.peer_for(hub)
        if peer is None:
            return _message(
                503,
                f"Task hub '{hub}' is not hosted by this devhost (it hosts '{self.hubs.own}') "
                f"and {TASK_HUBS_SETTING} names no devhost for it. Run the devhost that hosts "
                f"'{hub}' and name it in {TASK_HUBS_SETTING}, e.g. "
                f"{TASK_HUBS_SETTING}={hub}=http://127.0.0.1:7072",
            )
        return await self._forward(request, hub, peer)

    async def _forward(self, request: web.Request, hub: str, peer: TaskHubPeer) -> web.Response:
        if self._session is None:
            # No total timeout: create-and-wait requests take as long as the caller asked.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_SECONDS),
                auto_decompress=False,
            )
        headers = _headers(request.headers.items())
        headers[FORWARDED_HEADER] = self.hubs.own
        url = URL(peer.url + request.raw_path, encoded=True)
        try:
            async with self._session.request(
                request.method,
                url,
                headers=headers,
                data=await request.read(),
                allow_redirects=False,
            ) as answer:
                body = await answer.read()
                return web.Response(
                    status=answer.status, body=body, headers=_headers(answer.headers.items())
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            log.warning(
                "Task hub '%s': the devhost at %s did not answer: %s", hub, peer.url, reason
            )
            return _message(
                502,
                f"Task hub '{hub}' is hosted by the devhost at {peer.url} "
                f"({TASK_HUBS_SETTING}), which could not be reached: {reason}. Is it running?",
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
