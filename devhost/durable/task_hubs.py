"""Which task hub a durable API request names, and which devhost serves each other hub.

The extension's HTTP API acts on the hub in a request's `taskHub` query parameter, else on the
app's own (HttpApiHandler.GetClient). One devhost hosts one hub; DEVHOST_TASK_HUBS names the
devhosts hosting the others, as `HubName=http://host:port` pairs separated by commas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from devhost.settings import HUB_NAME_RULES, SettingsError, is_valid_hub_name

TASK_HUBS_SETTING = "DEVHOST_TASK_HUBS"
_EXAMPLE = "Express=http://127.0.0.1:7072"


def hub_key(hub: str) -> str:
    """Task hub names compare without case (Azure Storage table and queue names do)."""
    return hub.lower()


@dataclass(frozen=True)
class TaskHubPeer:
    """Another devhost: the hub it hosts (as DEVHOST_TASK_HUBS spells it) and its base URL."""

    hub: str
    url: str


def _bad_entry(entry: str, why: str) -> SettingsError:
    return SettingsError(
        f"{TASK_HUBS_SETTING}: the entry '{entry}' is not HubName=http://host:port ({why}); "
        f"the setting is a comma-separated list such as {_EXAMPLE}"
    )


def _base_url(entry: str, text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise _bad_entry(entry, f"'{text}' is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise _bad_entry(entry, f"'{text}' has an invalid port") from None
    if not parts.hostname:
        raise _bad_entry(entry, f"'{text}' names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise _bad_entry(entry, f"'{text}' must be only scheme://host:port, with no path")
    return f"{parts.scheme}://{parts.netloc}"


def parse_task_hubs(text: str | None) -> dict[str, TaskHubPeer]:
    """DEVHOST_TASK_HUBS as {hub_key(hub): peer}; blank entries are skipped, others must parse."""
    peers: dict[str, TaskHubPeer] = {}
    for raw in (text or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        hub, sep, url = (part.strip() for part in entry.partition("="))
        if not sep:
            raise _bad_entry(entry, "no '='")
        if not is_valid_hub_name(hub):
            raise _bad_entry(entry, f"a task hub name must contain {HUB_NAME_RULES}")
        peer = TaskHubPeer(hub, _base_url(entry, url))
        if hub_key(hub) in peers:
            raise _bad_entry(entry, f"task hub '{hub}' is named twice")
        peers[hub_key(hub)] = peer
    return peers


def requested_task_hub(query: Iterable[tuple[str, str]]) -> str | None:
    """The first non-blank `taskHub` query value (the key in any case), or None."""
    for key, value in query:
        if key.lower() == "taskhub" and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class TaskHubs:
    """This devhost's own hub and the devhosts that host other hubs."""

    own: str
    peers: Mapping[str, TaskHubPeer]

    def is_own(self, hub: str | None) -> bool:
        """No hub named, or this devhost's own (in any case): served here."""
        return hub is None or hub_key(hub) == hub_key(self.own)

    def peer_for(self, hub: str) -> TaskHubPeer | None:
        return self.peers.get(hub_key(hub))

    def describe(self) -> str:
        others = [p for k, p in sorted(self.peers.items()) if k != hub_key(self.own)]
        return ", ".join(f"{p.hub} at {p.url}" for p in others)
