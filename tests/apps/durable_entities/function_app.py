"""A test app for durable entities on devhost: entity functions, orchestrators that call and
signal them, and HTTP functions that use the SDK's client to signal and read entities."""

import json
import time
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


# -- entities ----------------------------------------------------------------------------


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    """A function-based entity: an integer with add, get, reset, fail and delete."""
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
        context.set_state(value)
        context.set_result(value)
    elif operation == "slow_add":  # answers after the caller may have failed
        time.sleep(1.0)
        value += context.get_input()
        context.set_state(value)
        context.set_result(value)
    elif operation == "get":
        context.set_result(value)
    elif operation == "reset":
        context.set_state(0)
    elif operation == "fail":
        raise ValueError(f"counter refused at {value}")
    elif operation == "delete":
        context.destruct_on_exit()
    else:
        raise ValueError(f"unknown operation {operation}")


@app.entity_trigger(context_name="context", entity_name="Journal")
def journal_entity(context: df.DurableEntityContext) -> None:
    """Appends every operation's input, so tests see the order operations ran in."""
    entries = context.get_state(list)
    if context.operation_name == "append":
        entries.append(context.get_input())
        context.set_state(entries)
    context.set_result(entries)


class Account:
    """A class whose methods are the operations (the SDK has no class-based entities, so
    `account` below dispatches to the methods by operation name)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.balance = state.get("balance", 0)
        self.history: list[str] = state.get("history", [])

    def deposit(self, amount: int) -> int:
        self.balance += amount
        self.history.append(f"+{amount}")
        return self.balance

    def withdraw(self, amount: int) -> int:
        if amount > self.balance:
            raise ValueError(f"insufficient funds: {self.balance} < {amount}")
        self.balance -= amount
        self.history.append(f"-{amount}")
        return self.balance

    def statement(self, _: Any = None) -> dict[str, Any]:
        return {"balance": self.balance, "history": self.history}


@app.entity_trigger(context_name="context")
def account(context: df.DurableEntityContext) -> None:
    state = Account(context.get_state(dict))
    method = getattr(Account, context.operation_name, None)
    if method is None or context.operation_name.startswith("_"):
        raise ValueError(f"no operation {context.operation_name}")
    result = method(state, context.get_input())
    context.set_state({"balance": state.balance, "history": state.history})
    context.set_result(result)


@app.entity_trigger(context_name="context")
def fragile(context: df.DurableEntityContext) -> None:
    """The first "store" for a marker path leaves a state that cannot be serialized, so the
    whole batch fails after the operation ran (the SDK serializes state once per batch);
    later attempts store 1."""
    marker = Path(context.get_input())
    if context.operation_name == "store" and not marker.exists():
        marker.write_text("failed once")
        context.set_state(object())
    else:
        context.set_state(1)


# -- orchestrators -----------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def call_and_signal(context: df.DurableOrchestrationContext) -> Any:
    """Signals add(1) and add(2), then calls add(10) and get: the signals run first."""
    key = context.get_input()
    entity = df.EntityId("counter", key)
    context.signal_entity(entity, "add", 1)
    context.signal_entity(entity, "add", 2)
    after_add = yield context.call_entity(entity, "add", 10)
    total = yield context.call_entity(entity, "get")
    return {"after_add": after_add, "total": total}


@app.orchestration_trigger(context_name="context")
def failing_call(context: df.DurableOrchestrationContext) -> Any:
    """Signal add(5) and call fail in one episode, so both run in one batch: the failure
    reaches the caller and the add before it in the batch is kept."""
    entity = df.EntityId("counter", context.get_input())
    context.signal_entity(entity, "add", 5)
    try:
        yield context.call_entity(entity, "fail")
        error = None
    except Exception as exc:  # the SDK raises a plain Exception with the entity's message
        error = str(exc)
    total = yield context.call_entity(entity, "get")
    return {"error": error, "total": total}


@app.orchestration_trigger(context_name="context")
def bank(context: df.DurableOrchestrationContext) -> Any:
    entity = df.EntityId("account", context.get_input())
    yield context.call_entity(entity, "deposit", 100)
    yield context.call_entity(entity, "withdraw", 30)
    try:
        yield context.call_entity(entity, "withdraw", 500)
    except Exception as exc:
        refused = str(exc)
    statement = yield context.call_entity(entity, "statement")
    return {"refused": refused, "statement": statement}


@app.orchestration_trigger(context_name="context")
def fan_in(context: df.DurableOrchestrationContext) -> Any:
    """Calls add(i) on one counter for i in 1..n at once: each call sees a distinct total."""
    key, n = context.get_input()
    entity = df.EntityId("counter", key)
    totals = yield context.task_all(
        [context.call_entity(entity, "add", i) for i in range(1, n + 1)]
    )
    return sorted(totals)


@app.orchestration_trigger(context_name="context")
def signal_then_continue(context: df.DurableOrchestrationContext) -> Any:
    """Each execution signals add(1) in the episode that continues as new; the third calls get."""
    data = context.get_input()
    entity = df.EntityId("counter", data["key"])
    context.signal_entity(entity, "add", 1)
    if data["round"] < 2:
        context.continue_as_new({"key": data["key"], "round": data["round"] + 1})
        return None
    total = yield context.call_entity(entity, "get")
    return total


@app.orchestration_trigger(context_name="context")
def entity_call_and_flaky_step(context: df.DurableOrchestrationContext) -> Any:
    """An entity call and an activity at once: the activity fails first, so the instance is
    Failed when the entity's reply arrives (and that reply is dropped)."""
    data = context.get_input()
    entity = df.EntityId("counter", data["key"])
    results = yield context.task_all(
        [context.call_entity(entity, "slow_add", 5), context.call_activity("fail_once", data)]
    )
    return results


@app.activity_trigger(input_name="data")
def fail_once(data: dict[str, Any]) -> str:
    marker = Path(data["marker"])
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("first attempt fails")
    return "ok"


@app.orchestration_trigger(context_name="context")
def destroy(context: df.DurableOrchestrationContext) -> Any:
    entity = df.EntityId("counter", context.get_input())
    yield context.call_entity(entity, "add", 7)
    yield context.call_entity(entity, "delete")
    return "deleted"


@app.orchestration_trigger(context_name="context")
def signal_unknown(context: df.DurableOrchestrationContext) -> Any:
    context.signal_entity(df.EntityId("nosuchentity", "k"), "add", 1)
    return "sent"


@app.orchestration_trigger(context_name="context")
def call_unknown(context: df.DurableOrchestrationContext) -> Any:
    result = yield context.call_entity(df.EntityId("nosuchentity", "k"), "get")
    return result


# -- the SDK's client --------------------------------------------------------------------


@app.route(route="counters/{key}/{op}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> Any:
    entity = df.EntityId("counter", req.route_params["key"])
    body = req.get_body()
    await client.signal_entity(entity, req.route_params["op"], json.loads(body) if body else None)
    return func.HttpResponse(status_code=202)


@app.route(route="entities/{name}/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read_entity(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> Any:
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    response = await client.read_entity_state(entity)
    return func.HttpResponse(
        json.dumps({"exists": response.entity_exists, "state": response.entity_state}),
        mimetype="application/json",
    )
