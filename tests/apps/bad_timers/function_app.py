"""A test app whose timers have schedules devhost must refuse clearly, beside a good one."""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.timer_trigger(schedule="00:05:00", arg_name="timer")
def timespan(timer: func.TimerRequest) -> None:
    pass


@app.timer_trigger(schedule="0 */5 * * *", arg_name="timer")
def five_fields(timer: func.TimerRequest) -> None:
    pass


@app.route(route="alive")
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("yes")
