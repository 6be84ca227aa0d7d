"""A test app exercising every orchestration feature devhost must emulate."""

import json
import os
import threading
import time
from datetime import UTC, timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_lock = threading.Lock()
_active = 0
_peak = 0


def _journal(entry: dict) -> None:
    """Append one line per activity execution, so tests can count side effects."""
    path = os.environ.get("FEATURES_JOURNAL")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


# -- activities --------------------------------------------------------------------------


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    _journal({"activity": "say_hello", "input": name})
    return f"Hello {name}"


@app.activity_trigger(input_name="payload")
def double(payload: dict) -> dict:
    _journal({"activity": "double", "input": payload})
    delay = payload.get("sleep", 0)
    if delay:
        time.sleep(delay)
    return {"key": payload["key"], "value": payload["value"] * 2}


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    """Fails until it has been called `fail_times` times (counted in a file)."""
    counter = Path(payload["counter_file"])
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= payload["fail_times"]:
        raise ValueError(f"flaky failure {calls}")
    return f"succeeded after {calls} calls"


@app.activity_trigger(input_name="message")
def always_fails(message: str) -> str:
    raise RuntimeError(message)


@app.activity_trigger(input_name="delay")
def track_concurrency(delay: float) -> int:
    global _active, _peak
    with _lock:
        _active += 1
        _peak = max(_peak, _active)
    time.sleep(delay)
    with _lock:
        _active -= 1
        return _peak


# -- orchestrators -------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    cities = context.get_input() or ["Tokyo", "Seattle", "London"]
    results = []
    for city in cities:
        results.append((yield context.call_activity("say_hello", city)))
    context.set_custom_status({"done": len(results)})
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    tasks = [
        context.call_activity("double", {"key": i, "value": i, "sleep": spec.get("sleep", 0)})
        for i in range(spec["count"])
    ]
    results = yield context.task_all(tasks)
    return sum(r["value"] for r in results)


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=100, max_number_of_attempts=spec["attempts"]
    )
    try:
        return (yield context.call_activity_with_retry("flaky", options, spec))
    except Exception as exc:  # the SDK hands over a plain Exception
        return {"error": str(exc)}


@app.orchestration_trigger(context_name="context")
def catches_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("always_fails", "boom")
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def raises(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "before failing")
    raise ValueError("orchestrator gave up")


@app.orchestration_trigger(context_name="context")
def unhandled_activity_failure(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("always_fails", "not caught"))


@app.orchestration_trigger(context_name="context")
def calls_missing_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("no_such_activity", 1))


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    first = yield context.call_sub_orchestrator(
        "chain", ["Paris"], instance_id=f"{context.instance_id}-child"
    )
    second = yield context.call_sub_orchestrator("chain", ["Rome", "Oslo"])
    children = yield context.task_all(
        [context.call_sub_orchestrator("fan_out", {"count": n}) for n in (2, 3)]
    )
    return {"first": first, "second": second, "children": children}


@app.orchestration_trigger(context_name="context")
def parent_of_failure(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=2)
    try:
        yield context.call_sub_orchestrator_with_retry("raises", options)
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def parent_of_waiter(context: df.DurableOrchestrationContext):
    try:
        yield context.call_sub_orchestrator("waits_forever", None, f"{context.instance_id}-child")
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(seconds=seconds))
    return (context.current_utc_datetime - start).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    """Wait for an event with a timeout, the human-interaction pattern."""
    timeout_seconds = context.get_input()
    deadline = context.current_utc_datetime + timedelta(seconds=timeout_seconds)
    timeout = context.create_timer(deadline)
    decision = context.wait_for_external_event("Approval")
    context.set_custom_status("waiting")
    winner = yield context.task_any([decision, timeout])
    if winner == decision:
        timeout.cancel()
        return {"decision": decision.result}
    return {"decision": "timed out"}


@app.orchestration_trigger(context_name="context")
def collect_events(context: df.DurableOrchestrationContext):
    """Waits for events one by one; events raised before each wait must be buffered."""
    spec = context.get_input()
    if spec.get("work_first"):
        yield context.call_activity("track_concurrency", spec["work_first"])
    values = []
    for index in range(spec["count"]):
        name = spec.get("name") or f"Item{index}"
        values.append((yield context.wait_for_external_event(name)))
    return values


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    fast = context.call_activity("say_hello", "fast")
    slow = context.create_timer(context.current_utc_datetime + timedelta(days=3))
    winner = yield context.task_any([fast, slow])
    if winner == fast and (context.get_input() or {}).get("cancel", True):
        slow.cancel()
    return winner.result


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    """Counts to a limit with continue_as_new, keeping each history short."""
    state = context.get_input()
    if state["n"] == 0:
        context.set_custom_status("first execution")  # not carried into later executions
    value = yield context.call_activity("double", {"key": state["n"], "value": state["n"]})
    state["total"] += value["value"]
    state["n"] += 1
    if state["n"] < state["limit"]:
        context.continue_as_new(state)
        return None
    return state


@app.orchestration_trigger(context_name="context")
def determinism(context: df.DurableOrchestrationContext):
    """Returns values that must be identical however often the orchestrator is replayed."""
    times = [context.current_utc_datetime.isoformat()]
    ids = [context.new_uuid()]
    replaying = [context.is_replaying]
    for city in ("A", "B"):
        yield context.call_activity("say_hello", city)
        times.append(context.current_utc_datetime.isoformat())
        ids.append(context.new_uuid())
        replaying.append(context.is_replaying)
    return {"times": times, "ids": ids, "replaying": replaying, "instance": context.instance_id}


@app.orchestration_trigger(context_name="context")
def waits_forever(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    yield context.wait_for_external_event("Never")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def kills_its_worker_once(context: df.DurableOrchestrationContext):
    """Ends the process replaying it the first time its second episode replays (a worker
    killed mid-episode); only for devhost's replay worker
    (tests/devhost_runtime/e2e/test_replay_process.py)."""
    first = yield context.call_activity("say_hello", "before")
    marker = Path(os.environ["FEATURES_JOURNAL"]).with_suffix(".worker-killed")
    if not marker.exists():
        marker.write_text("killed")
        os._exit(3)
    second = yield context.call_activity("say_hello", "after")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def concurrency(context: df.DurableOrchestrationContext):
    peaks = yield context.task_all(
        [context.call_activity("track_concurrency", 0.2) for _ in range(9)]
    )
    return max(peaks)


@app.orchestration_trigger(context_name="context", orchestration="renamed_orchestration")
def orchestration_with_other_name(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("renamed_activity", "x"))


@app.activity_trigger(input_name="value", activity="renamed_activity")
def activity_with_other_name(value: str) -> str:
    return value.upper()


# -- HTTP endpoints that drive the durable client through the SDK --------------------------


@app.route(route="orchestrators/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(
        req.route_params["name"], req.route_params.get("instance_id"), payload
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="client/{operation}/{instance_id?}", methods=["GET", "POST", "DELETE"])
@app.durable_client_input(client_name="client")
async def client_ops(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Runs one DurableOrchestrationClient method and reports what the SDK returned."""
    op = req.route_params["operation"]
    iid = req.route_params.get("instance_id")
    body = req.get_json() if req.get_body() else {}
    try:
        result = await _client_operation(op, iid, body, req, client)
    except Exception as exc:  # the SDK raises plain Exceptions for refusals
        return func.HttpResponse(
            json.dumps({"exception": str(exc)}), status_code=409, mimetype="application/json"
        )
    if isinstance(result, func.HttpResponse):
        return result
    return func.HttpResponse(json.dumps(result, default=str), mimetype="application/json")


async def _client_operation(op, iid, body, req, client):
    if op == "status":
        status = await client.get_status(
            iid,
            show_history=body.get("history", False),
            show_history_output=body.get("history_output", False),
            show_input=body.get("input", False),
        )
        if not status:
            return {"found": False}
        return {"found": True, **status.to_json(), "history": status.historyEvents}
    if op == "all":
        return sorted(s.instance_id for s in await client.get_status_all())
    if op == "by":
        from datetime import datetime

        statuses = [df.OrchestrationRuntimeStatus(s) for s in body.get("statuses", [])] or None
        found = await client.get_status_by(
            created_time_from=datetime(2000, 1, 1, tzinfo=UTC),
            runtime_status=statuses,
            instance_id_prefix=body.get("prefix"),
        )
        return sorted(s.instance_id for s in found)
    if op == "start":
        return await client.start_new(body["name"], iid, body.get("input"))
    if op == "raise":
        await client.raise_event(iid, body["event"], body.get("data"))
        return "raised"
    if op == "terminate":
        await client.terminate(iid, body.get("reason", "stopped by test"))
        return "terminated"
    if op == "purge":
        return (await client.purge_instance_history(iid)).instances_deleted
    if op == "purge_by":
        from datetime import datetime

        result = await client.purge_instance_history_by(
            created_time_from=datetime(2000, 1, 1, tzinfo=UTC),
            runtime_status=[df.OrchestrationRuntimeStatus(s) for s in body["statuses"]],
        )
        return result.instances_deleted
    if op == "config":
        bindings = client._orchestration_bindings  # what the durableClient binding carried
        return {
            "taskHub": bindings.task_hub_name,
            "rpcBaseUrl": bindings.rpc_base_url,
            "creationUrls": bindings.creation_urls,
        }
    if op == "payload":
        return client.create_http_management_payload(iid)
    if op == "wait":
        return await client.wait_for_completion_or_create_check_status_response(
            req,
            iid,
            timeout_in_milliseconds=body.get("timeout_ms", 5000),
            retry_interval_in_milliseconds=50,
        )
    raise ValueError(f"unknown operation {op}")
