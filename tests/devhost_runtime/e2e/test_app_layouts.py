"""App layouts on devhost: a FunctionApp built from df.Blueprint and func.Blueprint sub-modules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "blueprint_style"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHostProcess]:
    with DevHostProcess(APP, state_dir=tmp_path_factory.mktemp("blueprint-state")) as running:
        yield running


def follow_status(host: DevHostProcess, status_url: str, timeout: float = 30) -> dict[str, Any]:
    """Poll statusQueryGetUri as an HTTP client would: 202 while running, then 200."""

    def finished() -> dict[str, Any] | None:
        response = host.http.get(status_url, timeout=30)
        if response.status_code == 202:
            assert response.json()["runtimeStatus"] in ("Pending", "Running")
            return None
        assert response.status_code == 200, response.text
        return response.json()

    return wait_until(finished, timeout, f"{status_url} finished")


def test_every_blueprint_function_is_indexed(host: DevHostProcess) -> None:
    listed = host.http.get(host.url("/admin/functions"), timeout=30).json()
    assert {f["name"]: f["trigger"] for f in listed} == {
        "start_greetings": "httpTrigger",
        "greet_everyone": "orchestrationTrigger",
        "greet": "activityTrigger",
        "ping": "httpTrigger",
    }


def test_func_blueprint_http_function_from_a_sub_package(host: DevHostProcess) -> None:
    response = host.http.get(host.url("/api/ping"), timeout=30)
    assert response.status_code == 200
    assert response.json() == {"pong": True, "module": "endpoints.ping"}


def test_durable_blueprint_runs_end_to_end_through_its_http_starter(
    host: DevHostProcess,
) -> None:
    started = host.http.post(
        host.url("/api/greetings"), json={"names": ["tokyo", " seattle "]}, timeout=30
    )
    assert started.status_code == 202
    links = started.json()
    assert started.headers["Location"] == links["statusQueryGetUri"]
    assert links["statusQueryGetUri"].startswith(host.url("/runtime/webhooks/durabletask/"))
    assert "taskHub=BlueprintHub" in links["statusQueryGetUri"]

    status = follow_status(host, links["statusQueryGetUri"])

    assert status["runtimeStatus"] == "Completed"
    assert status["name"] == "greet_everyone"
    assert status["instanceId"] == links["id"]
    # start_new double-encodes its input, so the status shows the input's JSON text, as in Azure.
    assert json.loads(status["input"]) == {"names": ["tokyo", " seattle "]}
    assert status["customStatus"] == {"greeted": 2}
    assert status["output"] == {
        "greetings": ["Hello Tokyo!", "Hello Seattle!"],
        "module": "jobs.greetings",
    }
