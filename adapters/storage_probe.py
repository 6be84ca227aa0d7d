"""The health probe's storage check: asks the account for one container, via the Azure SDK."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from azure.storage.blob import BlobServiceClient

from app_config import StorageConnection


class BlobStorageProbe:
    """Proves the account accepts an authorised request by listing at most one container.

    Listing containers needs only a data-plane reader role, so the probe works with the
    least-privilege identity the app runs under and never needs an account key.
    """

    def __init__(self, client: BlobServiceClient, timeout_seconds: float) -> None:
        self._client = client
        self._timeout_seconds = timeout_seconds

    def __call__(self) -> None:
        # `timeout` is the server-side limit; the client's connect/read timeouts bound the wait.
        server_timeout = max(1, math.ceil(self._timeout_seconds))
        pages = self._client.list_containers(results_per_page=1, timeout=server_timeout).by_page()
        next(pages, None)


def storage_probe(connection: StorageConnection, timeout_seconds: float) -> Callable[[], None]:
    """A probe for `connection`; building the client happens inside the probe, so a malformed
    setting is reported as a failed check rather than crashing the endpoint."""

    def probe() -> None:
        BlobStorageProbe(blob_service_client(connection, timeout_seconds), timeout_seconds)()

    return probe


@lru_cache(maxsize=8)
def blob_service_client(connection: StorageConnection, timeout_seconds: float) -> BlobServiceClient:
    """A client for the account, without retries and with short connect/read timeouts.

    Cached so that repeated probes reuse connections and, with an identity, the token cache.
    """
    options = {
        "connection_timeout": timeout_seconds,
        "read_timeout": timeout_seconds,
        # No retries: a health probe must answer quickly, and the caller polls again anyway.
        "retry_total": 0,
    }
    if connection.connection_string is not None:
        return BlobServiceClient.from_connection_string(connection.connection_string, **options)

    # Imported here so that apps running on a connection string (local Azurite) skip its cost.
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(
        managed_identity_client_id=connection.managed_identity_client_id
    )
    return BlobServiceClient(connection.blob_service_uri or "", credential=credential, **options)
