"""The Durable extension's HTTP API (/runtime/webhooks/durabletask), as the SDK client calls it."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from devhost.durable.engine import DurableEngine
from devhost.durable.entity_api import EntityHttpApi
from devhost.durable.errors import DurableError
from devhost.durable.failures import parse_to_jtoken
from devhost.durable.history import EventType
from devhost.durable.lifecycle import Lifecycle, page
from devhost.durable.lifecycle_api import LifecycleApi
from devhost.durable.store import RUNNING_STATES, TERMINAL_STATES, Instance

WEBHOOK_PATH = "/runtime/webhooks/durabletask"


def client_binding_json(base_url: str, hub_name: str, system_key: str) -> str:
    """The durableClient binding data: the URLs the SDK's client builds its requests from."""
    webhook = f"{base_url}{WEBHOOK_PATH}"
    query = f"taskHub={hub_name}&connection=Storage&code={system_key}"
    instance = f"{webhook}/instances/INSTANCEID"
    return json.dumps(
        {
            "taskHubName": hub_name,
            "creationUrls": {
                "createNewInstancePostUri": (
                    f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]?code={system_key}"
                ),
                "createAndWaitOnNewInstancePostUri": (
                    f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
                    f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                    f"&code={system_key}"
                ),
            },
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{instance}?{query}",
                "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
                "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
                "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
                "purgeHistoryDeleteUri": f"{instance}?{query}",
                "restartPostUri": f"{instance}/restart?{query}",
                "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
                "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
            },
            "baseUrl": webhook,
            "requiredQueryStringParameters": f"code={system_key}",
            "rpcBaseUrl": f"{webhook}/",
            "httpBaseUrl": None,
        }
    )


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() == "true"


_EVENT_NAMES = {
    EventType.EXECUTION_STARTED: "ExecutionStarted",
    EventType.EXECUTION_COMPLETED: "ExecutionCompleted",
    EventType.EXECUTION_FAILED: "ExecutionFailed",
    EventType.EXECUTION_TERMINATED: "ExecutionTerminated",
    EventType.TASK_SCHEDULED: "TaskScheduled",
    EventType.TASK_COMPLETED: "TaskCompleted",
    EventType.TASK_FAILED: "TaskFailed",
    EventType.SUB_ORCHESTRATION_CREATED: "SubOrchestrationInstanceCreated",
    EventType.SUB_ORCHESTRATION_COMPLETED: "SubOrchestrationInstanceCompleted",
    EventType.SUB_ORCHESTRATION_FAILED: "SubOrchestrationInstanceFailed",
    EventType.TIMER_CREATED: "TimerCreated",
    EventType.TIMER_FIRED: "TimerFired",
    EventType.EVENT_SENT: "EventSent",
    EventType.EVENT_RAISED: "EventRaised",
    EventType.CONTINUE_AS_NEW: "ContinueAsNew",
    EventType.GENERIC: "GenericEvent",
    EventType.EXECUTION_SUSPENDED: "ExecutionSuspended",
    EventType.EXECUTION_RESUMED: "ExecutionResumed",
}
_STATUS_NAMES = {1: "Completed", 2: "ContinuedAsNew", 3: "Failed", 5: "Terminated"}
_SCHEDULING = (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_CREATED)
_COMPLETIONS = (
    EventType.TASK_COMPLETED,
    EventType.TASK_FAILED,
    EventType.SUB_ORCHESTRATION_COMPLETED,
    EventType.SUB_ORCHESTRATION_FAILED,
)


def history_view(
    history: list[dict[str, Any]], *, show_output: bool, show_input: bool
) -> list[dict[str, Any]]:
    """History as the status API shows it (the extension's DurableClient conversion).

    Event types become names; EventId and IsPlayed go; OrchestratorStarted/Completed go;
    a scheduling event with a matching completion is folded into that completion.
    """
    scheduled = {ev["EventId"]: ev for ev in history if ev["EventType"] in _SCHEDULING}
    completed = {ev["TaskScheduledId"] for ev in history if ev["EventType"] in _COMPLETIONS}
    view = []
    for ev in history:
        kind = ev["EventType"]
        if kind in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            continue
        if kind in _SCHEDULING and ev["EventId"] in completed:
            continue
        item = {k: v for k, v in ev.items() if k not in ("EventId", "IsPlayed")}
        item["EventType"] = _EVENT_NAMES.get(kind, str(kind))
        if kind == EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                item.pop(key, None)
        elif kind in _COMPLETIONS:
            origin = scheduled.get(item.pop("TaskScheduledId"), {})
            item["FunctionName"] = origin.get("Name")
            item["ScheduledTime"] = origin.get("Timestamp")
            item["Input"] = origin.get("Input")
            if kind == EventType.TASK_FAILED:
                item.setdefault("FailureDetails", None)
        elif kind == EventType.EXECUTION_COMPLETED:
            item["OrchestrationStatus"] = _STATUS_NAMES.get(item.get("OrchestrationStatus"), "")
        elif kind == EventType.TIMER_FIRED:
            item.pop("TimerId", None)
        elif kind in _SCHEDULING:
            item.pop("Version", None)
        if "Result" in item:
            if show_output:
                item["Result"] = parse_to_jtoken(item["Result"])
            else:
                del item["Result"]
        if not show_input:
            item.pop("Input", None)
        view.append(item)
    return view


def status_payload(
    inst: Instance,
    *,
    show_input: bool = True,
    history: list[dict[str, Any]] | None = None,
    show_history_output: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": inst.name,
        "instanceId": inst.instance_id,
        "runtimeStatus": inst.runtime_status,
        "input": _json_or_none(inst.input) if show_input else None,
        "customStatus": _json_or_none(inst.custom_status),
        "output": _json_or_none(inst.output),
        "createdTime": inst.created_time,
        "lastUpdatedTime": inst.last_updated_time,
    }
    if history is not None:
        payload["historyEvents"] = history_view(
            history, show_output=show_history_output, show_input=show_input
        )
    return payload


def _error(status: int, message: str, exception_type: str | None = None) -> web.Response:
    """Error bodies in the extension's shape (HttpRequestMessageExtensions.CreateErrorResponse)."""
    body: dict[str, Any]
    if status == 400:
        body = {
            "Message": "One or more of the arguments submitted is incorrect",
            "ExceptionMessage": message,
        }
    elif status == 500:
        body = {
            "Message": "Something went wrong while processing your request",
            "ExceptionMessage": message,
            "ExceptionType": exception_type or "System.Exception",
            "StackTrace": "",
        }
    else:
        body = {"Message": message}
    return web.json_response(body, status=status)


def _refusal(exc: DurableError) -> web.Response:
    return _error(exc.status, str(exc), getattr(exc, "exception_type", None))


class DurableHttpApi:
    """aiohttp handlers for the extension's webhook and RPC API (the same endpoints here)."""

    def __init__(
        self, engine: DurableEngine, base_url: str, hub_name: str, system_key: str
    ) -> None:
        self.engine = engine
        self.base_url = base_url
        self.hub_name = hub_name
        self.system_key = system_key

    def routes(self) -> list[web.RouteDef]:
        p = WEBHOOK_PATH
        return [
            web.post(p + "/orchestrators/{name}", self.start),
            web.post(p + "/orchestrators/{name}/{instance_id}", self.start),
            web.get(p + "/instances", self.list_instances),
            web.get(p + "/instances/", self.list_instances),
            web.delete(p + "/instances", self.purge_by),
            web.delete(p + "/instances/", self.purge_by),
            web.get(p + "/instances/{instance_id}", self.get_status),
            web.delete(p + "/instances/{instance_id}", self.purge_one),
            web.post(p + "/instances/{instance_id}/raiseEvent/{event_name}", self.raise_event),
            web.post(p + "/instances/{instance_id}/terminate", self.terminate),
            *LifecycleApi(
                Lifecycle(self.engine), self.management_payload, self._wait_for_completion
            ).routes(p),
            *EntityHttpApi(self.engine.entities, p).routes(),
        ]

    def management_payload(self, instance_id: str, origin: str | None = None) -> dict[str, Any]:
        urls = json.loads(
            client_binding_json(origin or self.base_url, self.hub_name, self.system_key)
        )
        return {
            key: value.replace("INSTANCEID", instance_id)
            for key, value in urls["managementUrls"].items()
        }

    async def _body_token(self, request: web.Request) -> Any:
        text = await request.text()
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DurableError(f"The request body is not valid JSON: {exc.msg}") from exc

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            token = await self._body_token(request)
            instance_id = await self.engine.start_new(
                name,
                request.match_info.get("instance_id"),
                token,
                request.query.get("version") or None,
            )
        except DurableError as exc:
            return _refusal(exc)
        origin = f"{request.scheme}://{request.host}"
        payload = self.management_payload(instance_id, origin)
        if "timeout" in request.query and "pollingInterval" in request.query:
            return await self._wait_for_completion(request, instance_id, payload)
        return web.json_response(
            payload,
            status=202,
            headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"},
        )

    async def _wait_for_completion(
        self, request: web.Request, instance_id: str, payload: dict[str, Any]
    ) -> web.Response:
        try:
            timeout = float(request.query.get("timeout") or 10)
            interval = float(request.query.get("pollingInterval") or 1)
        except ValueError:
            return _error(400, "timeout and pollingInterval must be numbers of seconds")
        if interval > timeout:
            return _error(
                400, f"Total timeout {timeout} should be bigger than retry timeout {interval}"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            inst = await self.engine.get_instance(instance_id)
            if inst is not None and inst.is_terminal:
                if inst.runtime_status == "Completed":
                    return web.json_response(_json_or_none(inst.output), status=200)
                return web.json_response(status_payload(inst), status=200)
            if loop.time() >= deadline:
                return web.json_response(
                    payload,
                    status=202,
                    headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"},
                )
            await asyncio.sleep(max(0.01, min(interval, deadline - loop.time())))

    async def get_status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        inst = await self.engine.get_instance(instance_id)
        if inst is None:
            return web.Response(status=404)
        history = None
        if _flag(request, "showHistory", False) and inst.runtime_status != "Pending":
            history = await self.engine.get_history(instance_id)
        payload = status_payload(
            inst,
            show_input=_flag(request, "showInput", True),
            history=history,
            show_history_output=_flag(request, "showHistoryOutput", False),
        )
        if inst.runtime_status in RUNNING_STATES:
            location = self.management_payload(instance_id, f"{request.scheme}://{request.host}")
            return web.json_response(
                payload,
                status=202,
                headers={"Location": location["statusQueryGetUri"], "Retry-After": "5"},
            )
        return web.json_response(payload, status=200)

    def _filters(self, request: web.Request) -> dict[str, Any]:
        statuses = request.query.get("runtimeStatus")
        return {
            "created_from": _normalize_time(request.query.get("createdTimeFrom")),
            "created_to": _normalize_time(request.query.get("createdTimeTo")),
            "statuses": [s for s in statuses.split(",") if s] if statuses else None,
            "prefix": request.query.get("instanceIdPrefix") or None,
        }

    async def list_instances(self, request: web.Request) -> web.Response:
        """One page (`top`, default 100) and the continuation token header, as the extension."""
        instances = await self.engine.query(**self._filters(request))
        # OrchestrationStatusQueryCondition.ShowInput defaults to true.
        show_input = _flag(request, "showInput", True)
        try:
            top = int(request.query.get("top") or 100)
            token = request.headers.get("x-ms-continuation-token") or ""
            chosen, next_token = page(instances, top, token)
        except ValueError:
            return _error(
                400,
                "top must be a positive number and x-ms-continuation-token "
                "must come from a previous page",
            )
        return web.json_response(
            [status_payload(i, show_input=show_input) for i in chosen],
            status=200,
            headers={"x-ms-continuation-token": next_token},
        )

    async def purge_by(self, request: web.Request) -> web.Response:
        filters = self._filters(request)
        if not filters["created_from"]:
            return web.json_response(
                "Please provide value for 'createdTimeFrom' parameter.", status=400
            )
        # Azure Storage keeps only the terminal statuses of the filter; when none is left it
        # applies no status filter at all, so running instances in the range go too.
        terminal = [s for s in filters["statuses"] or [] if s in TERMINAL_STATES]
        filters["statuses"] = terminal or None
        instances = await self.engine.query(**filters)
        deleted = await self.engine.purge([i.instance_id for i in instances])
        if deleted == 0:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted}, status=200)

    async def purge_one(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        inst = await self.engine.get_instance(instance_id)
        if inst is None:
            return web.Response(status=404)
        deleted = await self.engine.purge([instance_id])
        return web.json_response({"instancesDeleted": deleted}, status=200)

    async def raise_event(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _error(400, "Only application/json request content is supported")
        try:
            token = await self._body_token(request)
            await self.engine.raise_event(
                request.match_info["instance_id"], request.match_info["event_name"], token
            )
        except DurableError as exc:
            return _refusal(exc)
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.Response:
        reason = unquote_plus(
            request.rel_url.raw_query_string.partition("reason=")[2].split("&")[0]
        )
        try:
            await self.engine.terminate(request.match_info["instance_id"], reason or None)
        except DurableError as exc:
            return _refusal(exc)
        return web.Response(status=202)


def _normalize_time(value: str | None) -> str | None:
    """Query times come as %Y-%m-%dT%H:%M:%S.%fZ; stored times are second-precision Z."""
    if not value:
        return None
    from devhost.durable.history import parse_timestamp

    return parse_timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")
