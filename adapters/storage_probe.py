"""The health probe's storage check: asks the account for one container, via the Azure SDK."""

from __future__ import annotations

import math

from azure.storage.blob import BlobServiceClient


class BlobStorageProbe:
    """Proves the account accepts an authorised request by listing at most one container.

    Listing containers needs only a data-plane reader role, so the probe works with the
    least-privilege identity the app runs under and never needs an account key.
    """

    def __init__(self, client: BlobServiceClient, timeout_seconds: float) -> None:
        self.client = client
        self._timeout_seconds = timeout_seconds

    def __call__(self) -> None:
        # `timeout` is the server-side limit; the client's connect/read timeouts bound the wait.
        server_timeout = max(1, math.ceil(self._timeout_seconds))
        pages = self.client.list_containers(results_per_page=1, timeout=server_timeout).by_page()
        next(pages, None)
