"""A test app with timer triggers: frequent, monitored, on start-up, from an app setting."""

import json
import os

import azure.functions as func

app = func.FunctionApp()


def _record(name: str, timer: func.TimerRequest) -> None:
    with open(os.environ["TIMER_JOURNAL"], "a", encoding="utf-8") as journal:
        entry = {
            "function": name,
            "pid": os.getpid(),
            "past_due": timer.past_due,
            "last": (timer.schedule_status or {}).get("Last"),
            "next": (timer.schedule_status or {}).get("Next"),
        }
        journal.write(json.dumps(entry) + "\n")


@app.timer_trigger(schedule="* * * * * *", arg_name="timer", use_monitor=True)
def every_second(timer: func.TimerRequest) -> None:
    _record("every_second", timer)


@app.timer_trigger(schedule="%NIGHTLY_SCHEDULE%", arg_name="timer")
def nightly(timer: func.TimerRequest) -> None:
    _record("nightly", timer)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def on_startup(timer: func.TimerRequest) -> None:
    _record("on_startup", timer)
