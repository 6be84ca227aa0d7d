"""A test app for suspend, resume, rewind, restart, queries and purges via the durable client."""

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _journal(entry: dict) -> None:
    """One line per activity execution, so tests can tell which calls ran again."""
    path = os.environ.get("LIFECYCLE_JOURNAL")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


# -- activities --------------------------------------------------------------------------


@app.activity_trigger(input_name="name")
def shout(name: str) -> str:
    _journal({"activity": "shout", "input": name})
    return name.upper()


@app.activity_trigger(input_name="gate")
def gated_step(gate: str) -> str:
    """Finishes once the file `gate` exists, so a test can act while it runs."""
    _journal({"activity": "gated_step", "input": gate})
    deadline = time.monotonic() + 30
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate} never appeared")
        time.sleep(0.02)
    return "stepped"


@app.activity_trigger(input_name="payload")
def fails_until(payload: dict) -> str:
    """Fails while the counter file counts no more than `failures` calls."""
    counter = Path(payload["counter"])
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    _journal({"activity": "fails_until", "call": calls})
    if calls <= payload["failures"]:
        raise ValueError(f"failure {calls} of {payload['failures']}")
    return f"ok after {calls}"


# -- orchestrators -----------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def step_then_event(context: df.DurableOrchestrationContext):
    step = yield context.call_activity("gated_step", context.get_input())
    go = yield context.wait_for_external_event("Go")
    return [step, go]


@app.orchestration_trigger(context_name="context")
def waits(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    return (yield context.wait_for_external_event("Never"))


@app.orchestration_trigger(context_name="context")
def sleeps(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    return "woke"


@app.orchestration_trigger(context_name="context")
def gated_parent(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("gated_child", context.get_input())
    return f"parent saw {child}"


@app.orchestration_trigger(context_name="context")
def gated_child(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("gated_step", context.get_input()))


@app.orchestration_trigger(context_name="context")
def flaky_chain(context: df.DurableOrchestrationContext):
    """shout, then a call that fails the first time(s), then shout again."""
    settings = context.get_input()
    first = yield context.call_activity("shout", "before")
    middle = yield context.call_activity("fails_until", settings)
    last = yield context.call_activity("shout", "after")
    return [first, middle, last]


@app.orchestration_trigger(context_name="context")
def flaky_with_retry(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=2)
    middle = yield context.call_activity_with_retry("fails_until", retry, context.get_input())
    last = yield context.call_activity("shout", "after retry")
    return [middle, last]


@app.orchestration_trigger(context_name="context")
def flaky_fan_out(context: df.DurableOrchestrationContext):
    settings = context.get_input()
    results = yield context.task_all(
        [
            context.call_activity("shout", "left"),
            context.call_activity("fails_until", settings),
            context.call_activity("shout", "right"),
        ]
    )
    return results


@app.orchestration_trigger(context_name="context")
def flaky_parent(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("shout", "parent")
    child = yield context.call_sub_orchestrator("flaky_chain", context.get_input())
    return [first, child]


@app.orchestration_trigger(context_name="context")
def echo(context: df.DurableOrchestrationContext):
    value = context.get_input()
    shouted = yield context.call_activity("shout", value["name"])
    return {"input": value, "shouted": shouted, "id": context.instance_id}


# -- the durable client through the SDK ----------------------------------------------------


@app.route(route="client/{operation}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def client_ops(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Runs one DurableOrchestrationClient method and reports what the SDK returned."""
    op = req.route_params["operation"]
    iid = req.route_params.get("instance_id")
    body = req.get_json() if req.get_body() else {}
    try:
        result = await _client_operation(op, iid, body, client)
    except Exception as exc:  # the SDK raises plain Exceptions for refusals
        return func.HttpResponse(
            json.dumps({"exception": str(exc)}), status_code=409, mimetype="application/json"
        )
    return func.HttpResponse(json.dumps(result, default=str), mimetype="application/json")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def _statuses(names: list[str] | None) -> list[df.OrchestrationRuntimeStatus] | None:
    return [df.OrchestrationRuntimeStatus(n) for n in names] if names else None


async def _client_operation(op, iid, body, client):
    if op == "suspend":
        return await client.suspend(iid, body.get("reason", "paused by test"))
    if op == "resume":
        return await client.resume(iid, body.get("reason", "resumed by test"))
    if op == "rewind":
        return await client.rewind(iid, body.get("reason", "rewound by test"))
    if op == "restart":
        return await client.restart(iid, body.get("new_id", True))
    if op == "terminate":
        return await client.terminate(iid, body.get("reason", "stopped by test"))
    if op == "all":
        return sorted(s.instance_id for s in await client.get_status_all())
    if op == "by":
        found = await client.get_status_by(
            created_time_from=_time(body.get("from")),
            created_time_to=_time(body.get("to")),
            runtime_status=_statuses(body.get("statuses")),
            instance_id_prefix=body.get("prefix"),
        )
        return sorted(s.instance_id for s in found)
    if op == "purge_by":
        result = await client.purge_instance_history_by(
            created_time_from=_time(body.get("from")),
            created_time_to=_time(body.get("to")),
            runtime_status=_statuses(body.get("statuses")),
        )
        return result.instances_deleted
    raise ValueError(f"unknown operation {op}")
