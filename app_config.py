"""The app's one configuration module: reads settings from the environment, with local defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

STORAGE_SETTING = "AzureWebJobsStorage"
DEFAULT_APP_VERSION = "0.1.0"
DEFAULT_HEALTH_TIMEOUT_SECONDS = 5.0

# Azurite's published development account. The key is public and only works against the
# emulator; the app never needs a real storage key (in Azure it uses a managed identity).
# devhost keeps its own copy of this constant: the app and devhost never import each other.
DEV_STORAGE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


@dataclass(frozen=True)
class StorageConnection:
    """How to reach the app's storage account: exactly one of the two fields is set.

    `connection_string` is kept out of repr() so that logging this object cannot leak a key.
    """

    connection_string: str | None = field(default=None, repr=False)
    blob_service_uri: str | None = None
    # Client id of a user-assigned managed identity; None lets DefaultAzureCredential choose.
    managed_identity_client_id: str | None = None

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _setting(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def storage_connection(env: Mapping[str, str] | None = None) -> StorageConnection:
    """Resolve the `AzureWebJobsStorage` connection the same way the Functions host does.

    Precedence: a connection string in `AzureWebJobsStorage`; then the identity-based settings
    `AzureWebJobsStorage__blobServiceUri` or `AzureWebJobsStorage__accountName` (with an optional
    `AzureWebJobsStorage__clientId` for a user-assigned identity); otherwise local Azurite.
    """
    env = _env(env)
    value = _setting(env, STORAGE_SETTING)
    if value is not None:
        if _is_development_storage(value):
            return StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)
        return StorageConnection(connection_string=value)

    client_id = _setting(env, f"{STORAGE_SETTING}__clientId")
    blob_uri = _setting(env, f"{STORAGE_SETTING}__blobServiceUri")
    if blob_uri is None:
        account = _setting(env, f"{STORAGE_SETTING}__accountName")
        if account is not None:
            blob_uri = f"https://{account}.blob.core.windows.net"
    if blob_uri is not None:
        return StorageConnection(blob_service_uri=blob_uri, managed_identity_client_id=client_id)

    return StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)


def _is_development_storage(value: str) -> bool:
    """True for "UseDevelopmentStorage=true", optionally followed by more `key=value;` pairs."""
    for part in value.split(";"):
        key, _, flag = part.partition("=")
        if key.strip().lower() == "usedevelopmentstorage":
            return flag.strip().lower() == "true"
    return False


def app_version(env: Mapping[str, str] | None = None) -> str:
    """The version reported by the health probe; set APP_VERSION at deploy time."""
    return _setting(_env(env), "APP_VERSION") or DEFAULT_APP_VERSION


def health_timeout_seconds(env: Mapping[str, str] | None = None) -> float:
    """Upper bound for each dependency check in the health probe (HEALTH_TIMEOUT_SECONDS)."""
    raw = _setting(_env(env), "HEALTH_TIMEOUT_SECONDS")
    if raw is None:
        return DEFAULT_HEALTH_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        # Fail loudly: a silently ignored setting is harder to debug than an unhealthy probe.
        raise ValueError(f"HEALTH_TIMEOUT_SECONDS must be a positive number of seconds: {raw!r}")
    return seconds
