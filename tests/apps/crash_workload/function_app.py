"""A workload for the crash test: chain, fan-out, sub-orchestration, timer and continue-as-new."""

import hashlib
import json
import os
import random
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.activity_trigger(input_name="step")
def step(step: dict) -> dict:
    """Records its execution (the side effect the test counts), then returns a digest."""
    with open(os.environ["CRASH_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps({"key": step["key"], "pid": os.getpid()}) + "\n")
        journal.flush()
        os.fsync(journal.fileno())
    # Some activities take a while, so timed kills land mid-activity too.
    time.sleep(random.Random(step["key"]).choice([0, 0, 0.01, 0.05, 0.15]))
    label = step["key"].split("/", 1)[1]  # the value must not depend on the instance id
    return {"key": step["key"], "value": int(hashlib.sha256(label.encode()).hexdigest()[:6], 16)}


@app.orchestration_trigger(context_name="context")
def stage(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    values = []
    for i in range(3):
        done = yield context.call_activity("step", {"key": f"{spec['prefix']}-sub-{i}"})
        values.append(done["value"])
    return sum(values)


@app.orchestration_trigger(context_name="context")
def workload(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    # Keys are unique per instance (the crash test checks that none runs twice); the labels
    # after the "/" are the same for every instance, so every instance returns the same result.
    prefix = f"{context.instance_id}/{spec['name']}-round{spec['round']}"
    total = 0
    for i in range(4):
        total += (yield context.call_activity("step", {"key": f"{prefix}-chain-{i}"}))["value"]
    fanned = yield context.task_all(
        [context.call_activity("step", {"key": f"{prefix}-fan-{i}"}) for i in range(8)]
    )
    total += sum(item["value"] for item in fanned)
    total += yield context.call_sub_orchestrator(
        "stage", {"prefix": prefix}, instance_id=f"{context.instance_id}-stage-{spec['round']}"
    )
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=200))
    total += (yield context.call_activity("step", {"key": f"{prefix}-after-timer"}))["value"]
    results = spec["results"] + [total % 1_000_003]
    if spec["round"] < 1:
        context.continue_as_new({**spec, "round": spec["round"] + 1, "results": results})
        return None
    return results
