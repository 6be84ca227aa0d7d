"""activities/envelope.py: every activity's span, log lines, failure labels and registration."""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import pytest
from azure.core.exceptions import HttpResponseError

from activities.envelope import ActivityBlueprint, JobIds
from domain.failures import JobFailure, PermanentFailure, TransientFailure
from domain.payload import Model


class Echo(Model):
    job_id: str
    correlation_id: str | None = None


class Done(Model):
    job_id: str


class Refused(Exception):
    """A business outcome the job labels itself."""


def _ids(step: Echo) -> JobIds:
    return JobIds("echo", f"echo-{step.job_id}", step.correlation_id, f"echo {step.job_id}")


def _as_failure(error: Exception) -> JobFailure | None:
    return PermanentFailure(f"refused: {error}") if isinstance(error, Refused) else None


def _blueprint(adapters: Any = dict) -> tuple[ActivityBlueprint[Any], Any]:
    bp = ActivityBlueprint(adapters=adapters, ids=_ids, failures=_as_failure)

    @bp.activity("echo", Echo)
    def echo(step: Echo, adapters: dict[str, Any]) -> Done:
        if "raise" in adapters:
            raise adapters["raise"]
        return Done(job_id=step.job_id)

    return bp, echo


def _registered(bp: ActivityBlueprint[Any]) -> dict[str, Any]:
    app = df.DFApp()
    app.register_functions(bp)
    return {fn.get_function_name(): fn for fn in app.get_functions()}


def test_the_activity_is_registered_under_its_name_with_a_payload_input() -> None:
    built: list[str] = []
    bp, _ = _blueprint(lambda: built.append("built") or {})

    [(name, function)] = _registered(bp).items()

    assert name == "echo"
    assert [json.loads(b) for b in function.get_raw_bindings()] == [
        {"type": "activityTrigger", "direction": "IN", "name": "payload"}
    ]
    assert function.get_user_function()(payload={"job_id": "j-1"}) == {"job_id": "j-1"}
    assert built == ["built"]  # the registered function builds the job's adapters


def test_a_name_on_another_step_fails_at_import() -> None:
    bp = ActivityBlueprint(adapters=dict, ids=_ids)

    with pytest.raises(ValueError, match="activity echo is registered on other"):

        @bp.activity("echo", Echo)
        def other(step: Echo, adapters: Any) -> Done:
            return Done(job_id=step.job_id)


def test_start_and_end_lines_carry_ids_only(caplog: pytest.LogCaptureFixture) -> None:
    _, echo = _blueprint()
    caplog.set_level("INFO")

    echo({"job_id": "j-1", "correlation_id": "corr-1", "secret": "s3cr3t"}, {})

    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "echo started for echo j-1 [correlation corr-1]"
    assert lines[1].startswith("echo done for echo j-1 [correlation corr-1] in ")
    assert "s3cr3t" not in caplog.text


def test_input_that_does_not_read_fails_permanently() -> None:
    _, echo = _blueprint()

    with pytest.raises(PermanentFailure, match=r"^\[permanent\] invalid echo input: job_id: "):
        echo({"correlation_id": "corr-1"}, {})


@pytest.mark.parametrize(
    ("raised", "kind", "reason"),
    [
        (Refused("no"), PermanentFailure, "refused: no"),
        (TransientFailure("later"), TransientFailure, "later"),
    ],
)
def test_known_outcomes_become_labelled_failures(
    raised: Exception, kind: type[JobFailure], reason: str
) -> None:
    _, echo = _blueprint()

    with pytest.raises(kind) as caught:
        echo({"job_id": "j-1"}, {"raise": raised})
    assert caught.value.reason == reason


def test_a_busy_storage_is_transient() -> None:
    _, echo = _blueprint()
    busy = HttpResponseError(message="busy")
    busy.status_code = 503

    with pytest.raises(TransientFailure) as caught:
        echo({"job_id": "j-1"}, {"raise": busy})
    assert caught.value.reason == "echo: storage answered 503"


def test_an_unknown_error_is_raised_as_it_is() -> None:
    _, echo = _blueprint()

    with pytest.raises(KeyError):
        echo({"job_id": "j-1"}, {"raise": KeyError("bug")})


def test_a_missing_setting_fails_permanently_with_its_reason() -> None:
    def unconfigured() -> dict[str, Any]:
        raise ValueError("SOME_SETTING is not set")

    bp, _ = _blueprint(unconfigured)
    trigger = _registered(bp)["echo"].get_user_function()

    with pytest.raises(PermanentFailure) as caught:
        trigger(payload={"job_id": "j-1"})
    assert caught.value.reason == "echo is not configured: SOME_SETTING is not set"
