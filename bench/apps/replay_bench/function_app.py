"""The benchmark app: an activity chain, a fan-out/fan-in and a wait for many external events."""

import time

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="value")
def tick(value: int) -> float:
    """A trivial activity that returns the seconds spent in its own body."""
    started = time.perf_counter()
    _ = value + 1
    return time.perf_counter() - started


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    """N activities one after another; returns the total activity body time."""
    total = 0.0
    for i in range(context.get_input()):
        total += yield context.call_activity("tick", i)
    return total


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    """N activities at once, then fan in; returns the total activity body time."""
    tasks = [context.call_activity("tick", i) for i in range(context.get_input())]
    results = yield context.task_all(tasks)
    return sum(results)


@app.orchestration_trigger(context_name="context")
def events(context: df.DurableOrchestrationContext):
    """Waits for external events e0 .. e{N-1} in order (distinct names); returns 0 seconds."""
    for i in range(context.get_input()):
        yield context.wait_for_external_event(f"e{i}")
    return 0.0
