"""Task hubs without servers: DEVHOST_TASK_HUBS, the `taskHub` query, and each durable client
binding's data for the hub it names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.functions import meta

from devhost.bindings import BindingInputs, check_durable_client_hubs
from devhost.durable.api import client_binding_json
from devhost.durable.task_hubs import TaskHubPeer, TaskHubs, parse_task_hubs, requested_task_hub
from devhost.indexing import IndexedFunction
from devhost.settings import SettingsError


def test_pairs_parse_with_blanks_skipped_and_urls_reduced_to_their_origin() -> None:
    peers = parse_task_hubs(" Express=http://127.0.0.1:7072/ ,, Main = https://localhost:7071,")
    assert peers == {
        "express": TaskHubPeer("Express", "http://127.0.0.1:7072"),
        "main": TaskHubPeer("Main", "https://localhost:7071"),
    }
    assert parse_task_hubs(None) == parse_task_hubs("  ") == {}


@pytest.mark.parametrize(
    ("value", "entry", "why"),
    [
        ("Express", "Express", "no '='"),
        ("Express=localhost:7072", "Express=localhost:7072", "not an http:// or https:// URL"),
        ("Ex=http://127.0.0.1:7072", "Ex=http://127.0.0.1:7072", "letters and digits"),
        ("Express-1=http://h:1", "Express-1=http://h:1", "letters and digits"),
        ("Express=http://:7072", "Express=http://:7072", "names no host"),
        ("Express=http://h:99999", "Express=http://h:99999", "invalid port"),
        ("Express=http://h:1/api", "Express=http://h:1/api", "no path"),
        ("A12=http://h:1,a12=http://h:2", "a12=http://h:2", "named twice"),
    ],
)
def test_a_malformed_entry_is_refused_naming_the_setting_and_the_entry(
    value: str, entry: str, why: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        parse_task_hubs(value)
    message = str(refused.value)
    assert message.startswith(f"DEVHOST_TASK_HUBS: the entry '{entry}' is not HubName=")
    assert why in message


def test_the_requested_hub_is_the_first_non_blank_taskhub_in_any_case() -> None:
    assert requested_task_hub([("code", "x"), ("TASKHUB", " "), ("taskhub", "B")]) == "B"
    assert requested_task_hub([("taskHub", ""), ("connection", "Storage")]) is None
    assert requested_task_hub([]) is None


def test_the_own_hub_matches_without_case_and_peers_are_found_without_case() -> None:
    hubs = TaskHubs("JobsHub", parse_task_hubs("JobsExpress=http://127.0.0.1:7072"))
    assert hubs.is_own(None) and hubs.is_own("jobshub") and not hubs.is_own("JobsExpress")
    assert hubs.peer_for("JOBSEXPRESS") == TaskHubPeer("JobsExpress", "http://127.0.0.1:7072")
    assert hubs.peer_for("Other") is None


def test_the_own_hub_in_the_mapping_is_not_listed_as_served_elsewhere() -> None:
    """One DEVHOST_TASK_HUBS value can serve every devhost: each serves its own hub itself."""
    shared = parse_task_hubs("JobsHub=http://127.0.0.1:7071,JobsExpress=http://127.0.0.1:7072")
    assert TaskHubs("jobshub", shared).describe() == "JobsExpress at http://127.0.0.1:7072"


def function_with(*bindings: dict[str, Any]) -> IndexedFunction:
    trigger = {"type": "httpTrigger", "direction": "IN", "name": "req"}
    return IndexedFunction(
        name="starter",
        function_id="id",
        user_function=lambda **kwargs: None,
        bindings=[trigger, *bindings],
        type_hints={},
        wants_context=False,
        is_async=False,
    )


def client(name: str, **extra: str) -> dict[str, Any]:
    return {"type": "durableClient", "direction": "IN", "name": name, **extra}


def test_each_client_binding_gets_the_data_of_the_hub_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTHER_HUB", "JobsExpress")
    fn = function_with(client("own"), client("other", taskHub="%OTHER_HUB%"))
    check_durable_client_hubs([fn])
    assert fn.load_error is None
    base = "http://localhost:7071"
    inputs = BindingInputs(lambda hub: client_binding_json(base, hub or "JobsHub", "key"))
    data = inputs.for_function(fn, meta.Datum("request", "string"))
    own, other = (json.loads(getattr(data[name], "value", "")) for name in ("own", "other"))
    assert (own["taskHubName"], other["taskHubName"]) == ("JobsHub", "JobsExpress")
    status = f"{base}/runtime/webhooks/durabletask/instances/INSTANCEID"
    assert other["managementUrls"]["statusQueryGetUri"] == (
        f"{status}?taskHub=JobsExpress&connection=Storage&code=key"
    )
    assert own["managementUrls"]["statusQueryGetUri"] == (
        f"{status}?taskHub=JobsHub&connection=Storage&code=key"
    )
    for same in ("creationUrls", "baseUrl", "rpcBaseUrl", "requiredQueryStringParameters"):
        assert own[same] == other[same], same


def test_a_client_naming_an_unset_setting_or_an_invalid_hub_fails_to_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MISSING_HUB", raising=False)
    monkeypatch.setenv("BAD_HUB", "jobs-express")
    unset = function_with(client("other", taskHub="%MISSING_HUB%"))
    invalid = function_with(client("other", taskHub="%BAD_HUB%"))
    check_durable_client_hubs([unset, invalid])
    assert unset.load_error == (
        "the durable client binding 'other': its taskHub '%MISSING_HUB%' refers to app "
        "setting 'MISSING_HUB', which is not set"
    )
    assert invalid.load_error is not None
    assert "names the task hub 'jobs-express', which must contain only letters" in (
        invalid.load_error
    )
    # The invoker refuses a function that failed to load; its inputs are never built.
    never = BindingInputs(lambda hub: pytest.fail("built binding data for a failed function"))
    assert never.for_function(unset, None) == {}


def test_a_literal_hub_or_an_empty_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY_HUB", "")
    literal = function_with(client("a", taskHub="JobsExpress"), client("b", taskHub="%EMPTY_HUB%"))
    check_durable_client_hubs([literal])
    hubs: list[str | None] = []
    BindingInputs(lambda hub: hubs.append(hub) or "{}").for_function(literal, None)
    assert hubs == ["JobsExpress", None]  # an empty value is the app's own hub
