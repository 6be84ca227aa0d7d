"""The order stubs app (tests/apps/order_stubs) plus the supervisor's timer, so a scripted slow
order can be found and cancelled, and a failed job rewound."""

import importlib.util
import os
from pathlib import Path

from triggers.supervisor_timer import bp as supervisor_timer

_STUBS = Path(__file__).resolve().parent.parent / "order_stubs" / "function_app.py"
_spec = importlib.util.spec_from_file_location("order_stubs_app", _STUBS)
assert _spec is not None and _spec.loader is not None
_stubs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stubs)

app = _stubs.app
app.register_functions(supervisor_timer)


@app.orchestration_trigger(context_name="context")
def flaky_job(context):  # type: ignore[no-untyped-def]
    """A job whose only step fails the first time: it ends Failed until it is rewound."""
    result = yield context.call_activity("flaky_step", context.get_input())
    return result


@app.activity_trigger(input_name="marker")
def flaky_step(marker: str) -> str:
    """Fails on its first call for `marker` (an outage), succeeds on every later call."""
    seen = Path(os.environ["ORDER_STUBS_DIR"]) / f"{marker}.failed-once"
    if not seen.exists():
        seen.write_text("failed once")
        raise RuntimeError("downstream outage (scripted, first call only)")
    return f"done {marker}"
