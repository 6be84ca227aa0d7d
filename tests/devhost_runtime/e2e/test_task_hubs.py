"""Two devhosts, one task hub each: a durable client bound to the other hub, and the durable API's
`taskHub` query forwarded to the devhost DEVHOST_TASK_HUBS names (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devhost.testing import DURABLE, DevHostError, DevHostProcess, free_port, wait_until

APP = Path(__file__).resolve().parents[1] / "apps" / "task_hubs"


@dataclass
class Hubs:
    a: DevHostProcess  # hosts HubA; its `other` client is bound to HubB
    b: DevHostProcess  # hosts HubB
    gone_port: int

    def app(self, binding: str, operation: str, iid: str = "", **kw: Any) -> requests.Response:
        """A's HTTP function: one client call through the `own` or `other` binding."""
        path = f"/api/hubs/{binding}/{operation}" + (f"/{iid}" if iid else "")
        return self.a.http.post(self.a.url(path), timeout=30, **kw)


def env_for(hub: str, other: str, **extra: str) -> dict[str, str]:
    return {"TEST_TASK_HUB": hub, "OTHER_TASK_HUB": other, **extra}


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hubs]:
    b = DevHostProcess(APP, state_dir=tmp_path_factory.mktemp("hub-b"), env=env_for("HubB", "HubA"))
    gone_port = free_port()  # nothing listens there
    # Spaces and either case are fine; HubWrong maps to a devhost that hosts another hub.
    mapping = f"HubB={b.base_url}, hubgone=http://127.0.0.1:{gone_port}/,HubWrong={b.base_url}"
    a = DevHostProcess(
        APP,
        state_dir=tmp_path_factory.mktemp("hub-a"),
        env=env_for("HubA", "HubB", DEVHOST_TASK_HUBS=mapping),
    )
    try:
        with ThreadPoolExecutor(2) as starting:
            list(starting.map(lambda host: host.start(), (a, b)))
        yield Hubs(a, b, gone_port)
    finally:
        a.close()
        b.close()


def stored_in(host: DevHostProcess, iid: str) -> bool:
    """The instance is in this devhost's own store (its raw history, never forwarded)."""
    answer = host.http.get(host.url(f"/admin/devhost/instances/{iid}/history"), timeout=30)
    return answer.status_code == 200


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_each_durable_client_binding_carries_its_own_hub(hubs: Hubs) -> None:
    own = hubs.app("own", "binding").json()
    other = hubs.app("other", "binding").json()
    assert own["taskHubName"] == "HubA"
    assert other["taskHubName"] == "HubB"
    for name, url in other["managementUrls"].items():
        if name != "id":
            assert query_of(url)["taskHub"] == ["HubB"], name
    assert query_of(own["managementUrls"]["statusQueryGetUri"])["taskHub"] == ["HubA"]
    # The creation URLs and the RPC endpoint are the app's own, whatever the binding's hub.
    assert other["creationUrls"] == own["creationUrls"]
    assert other["rpcBaseUrl"] == own["rpcBaseUrl"]
    assert "taskHub" not in other["rpcBaseUrl"] + str(other["creationUrls"])


def test_an_orchestration_started_through_the_other_hub_runs_in_its_devhost(hubs: Hubs) -> None:
    started = hubs.app("other", "start", "runs-in-b")
    assert started.status_code == 202
    links = started.json()
    # The links point at the devhost the caller used, naming the other hub.
    assert links["statusQueryGetUri"].startswith(hubs.a.base_url + DURABLE + "/instances/")
    assert query_of(links["statusQueryGetUri"])["taskHub"] == ["HubB"]
    assert stored_in(hubs.b, "runs-in-b") and not stored_in(hubs.a, "runs-in-b")
    status = hubs.app("other", "status", "runs-in-b").json()
    assert status["runtimeStatus"] in ("Pending", "Running")
    followed = hubs.a.http.get(links["statusQueryGetUri"], timeout=30)
    assert followed.status_code == 202
    assert followed.headers["Content-Type"].startswith("application/json")
    assert followed.headers["Location"] == links["statusQueryGetUri"]
    assert followed.json()["instanceId"] == "runs-in-b"

    assert hubs.app("other", "raise", "runs-in-b", json={"ok": True}).json() == "raised"
    done = hubs.b.wait_for("runs-in-b")
    assert done["runtimeStatus"] == "Completed"
    assert done["output"] == {"approved": '{"ok": true}'}  # the SDK's double encoding
    assert hubs.app("other", "purge", "runs-in-b").json() == 1
    assert hubs.b.status("runs-in-b") is None


def test_terminate_through_the_other_hub(hubs: Hubs) -> None:
    assert hubs.app("other", "start", "stopped-in-b").status_code == 202
    assert hubs.app("other", "terminate", "stopped-in-b").json() == "terminated"
    status = hubs.b.wait_for("stopped-in-b")
    assert (status["runtimeStatus"], status["output"]) == ("Terminated", "enough")


def test_a_call_without_task_hub_acts_on_the_apps_own_hub(hubs: Hubs) -> None:
    """The SDK sends its calls to the RPC endpoint without the binding's hub, and the extension
    then serves the app's own hub (HttpApiHandler.GetClient)."""
    answer = hubs.app("other", "start", "stays-in-a", params={"name_hub": "false"})
    assert answer.status_code == 202
    assert stored_in(hubs.a, "stays-in-a") and not stored_in(hubs.b, "stays-in-a")


def test_entities_and_lists_are_forwarded_with_their_headers(hubs: Hubs) -> None:
    assert hubs.app("other", "signal", "k1", json=5).json() == "signalled"
    entity = f"{DURABLE}/entities/tally/k1"
    wait_until(lambda: hubs.b.http.get(hubs.b.url(entity), timeout=30).text == "5", what="tally")
    read = hubs.a.http.get(hubs.a.url(entity), params={"taskHub": "hubb"}, timeout=30)
    assert (read.status_code, read.text) == (200, "5")
    assert hubs.a.http.get(hubs.a.url(entity), timeout=30).status_code == 404  # A's own hub

    for iid in ("listed-1", "listed-2"):
        hubs.b.start_orchestration("waits_for_approval", instance_id=iid)
    # Both waiting (Running) before the two listings are compared: a start between them would
    # show one instance Pending, then Running.
    for iid in ("listed-1", "listed-2"):
        wait_until(lambda iid=iid: (hubs.b.status(iid) or {}).get("runtimeStatus") == "Running")
    query = {"taskHub": "HubB", "top": "1"}
    direct = hubs.b.http.get(hubs.b.url(f"{DURABLE}/instances"), params=query, timeout=30)
    forwarded = hubs.a.http.get(hubs.a.url(f"{DURABLE}/instances"), params=query, timeout=30)
    assert forwarded.json() == direct.json()
    token = forwarded.headers["x-ms-continuation-token"]
    assert token == direct.headers["x-ms-continuation-token"]
    more = hubs.a.http.get(
        hubs.a.url(f"{DURABLE}/instances"),
        params=query,
        headers={"x-ms-continuation-token": token},
        timeout=30,
    )
    assert more.json() != forwarded.json() and len(more.json()) == 1


def test_the_own_hub_in_any_case_or_a_blank_one_is_served_here(hubs: Hubs) -> None:
    for iid, hub in (("own-lower", "huba"), ("own-blank", " ")):
        answer = hubs.a.http.post(
            hubs.a.url(f"{DURABLE}/orchestrators/waits_for_approval/{iid}"),
            params={"taskHub": hub},
            timeout=30,
        )
        assert answer.status_code == 202
        assert stored_in(hubs.a, iid) and not stored_in(hubs.b, iid)


def test_hubs_that_cannot_be_served_are_refused_with_the_reason(hubs: Hubs) -> None:
    status = f"{DURABLE}/instances/any"
    unmapped = hubs.a.http.get(hubs.a.url(status), params={"taskHub": "Nowhere"}, timeout=30)
    assert unmapped.status_code == 503
    message = unmapped.json()["Message"]
    assert "'Nowhere'" in message and "DEVHOST_TASK_HUBS" in message
    assert "Run the devhost that hosts 'Nowhere'" in message

    gone = hubs.a.http.get(hubs.a.url(status), params={"taskHub": "HubGone"}, timeout=30)
    assert gone.status_code == 502
    assert f"127.0.0.1:{hubs.gone_port}" in gone.json()["Message"]
    assert "could not be reached" in gone.json()["Message"]

    # Mapped to a devhost that hosts another hub: refused there, never forwarded again.
    wrong = hubs.a.http.get(hubs.a.url(status), params={"taskHub": "HubWrong"}, timeout=30)
    assert wrong.status_code == 502
    assert "hosts task hub 'HubB', not 'HubWrong'" in wrong.json()["Message"]


def test_a_client_bound_to_an_unset_setting_fails_to_load(tmp_path: Path) -> None:
    with DevHostProcess(APP, state_dir=tmp_path, env={"TEST_TASK_HUB": "HubC"}) as host:
        assert host.http.get(host.url("/api/alive"), timeout=30).text == "yes"
        assert host.http.post(host.url("/api/hubs/own/binding"), timeout=30).status_code == 500
        assert (
            "Function 'hubs' failed to load: the durable client binding 'other': its taskHub "
            "'%OTHER_TASK_HUB%' refers to app setting 'OTHER_TASK_HUB', which is not set"
        ) in host.logs()


def refusal(host: DevHostProcess) -> str:
    """What devhost said when it refused to start."""
    try:
        with pytest.raises(DevHostError) as refused:
            host.start()
    finally:
        host.close()
    return str(refused.value)


def test_a_malformed_mapping_stops_devhost_at_start(tmp_path: Path) -> None:
    env = env_for("HubC", "HubB", DEVHOST_TASK_HUBS="HubB=http://127.0.0.1:7072,Express")
    said = refusal(DevHostProcess(APP, state_dir=tmp_path, env=env))
    assert "devhost could not start: DEVHOST_TASK_HUBS: the entry 'Express'" in said


def test_a_second_devhost_on_the_same_state_dir_is_refused(hubs: Hubs) -> None:
    said = refusal(DevHostProcess(APP, state_dir=hubs.a.state_dir, env=env_for("HubC", "HubB")))
    assert f"the state directory {hubs.a.state_dir.resolve()} is in use by another devhost" in said
    assert hubs.a.http.get(hubs.a.url("/api/alive"), timeout=30).text == "yes"
