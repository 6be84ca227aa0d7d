"""A test app for orchestrators.retry: activities that fail transiently N times or permanently."""

from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from domain.failures import PermanentFailure, TransientFailure, failure_kind, failure_reason
from domain.retry import RetryPolicy
from orchestrators.retry import call_activity_with_backoff

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _count_call(counter_file: str) -> int:
    """Count calls in a file, so the test sees every attempt the host made."""
    counter = Path(counter_file)
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    return calls


@app.activity_trigger(input_name="payload")
def fails_transiently(payload: dict) -> dict:
    calls = _count_call(payload["counter_file"])
    if calls <= payload["fail_times"]:
        raise TransientFailure(f"busy, call {calls}")
    return {"calls": calls}


@app.activity_trigger(input_name="payload")
def fails_permanently(payload: dict) -> dict:
    calls = _count_call(payload["counter_file"])
    raise PermanentFailure(f"declined, call {calls}")


@app.activity_trigger(input_name="payload")
def fails_unlabelled(payload: dict) -> dict:
    calls = _count_call(payload["counter_file"])
    raise RuntimeError(f"unexpected, call {calls}")


@app.orchestration_trigger(context_name="context")
def with_backoff(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    policy = RetryPolicy(
        max_attempts=spec["max_attempts"],
        first_delay=timedelta(seconds=spec["first_delay_seconds"]),
        backoff_coefficient=spec["backoff_coefficient"],
        max_delay=timedelta(seconds=spec["max_delay_seconds"]),
        jitter=spec["jitter"],
    )
    try:
        result = yield from call_activity_with_backoff(
            context, spec["activity"], spec["payload"], policy
        )
    except Exception as error:
        return {"kind": str(failure_kind(error)), "reason": failure_reason(error)}
    return {"result": result}
