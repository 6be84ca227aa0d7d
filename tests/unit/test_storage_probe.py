"""How the composition root builds the health probe's storage client; no request is sent."""

from __future__ import annotations

from azure.identity import DefaultAzureCredential

from adapters.factory import Root
from app_config import DEV_STORAGE_CONNECTION_STRING, StorageConnection


def test_identity_connection_uses_default_azure_credential_and_no_key() -> None:
    connection = StorageConnection(
        blob_service_uri="https://acct.blob.core.windows.net",
        managed_identity_client_id="00000000-0000-0000-0000-000000000001",
    )

    client = Root().storage_probe(connection, 3.0).client

    assert client.url.startswith("https://acct.blob.core.windows.net")
    assert isinstance(client.credential, DefaultAzureCredential)


def test_connection_string_client_targets_its_blob_endpoint_without_retries() -> None:
    connection = StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)

    client = Root().storage_probe(connection, 3.0).client

    assert client.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
    assert client.account_name == "devstoreaccount1"
    assert client._config.retry_policy.total_retries == 0


def test_probes_are_reused_for_the_same_settings_only() -> None:
    root = Root()
    connection = StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)

    assert root.storage_probe(connection, 3.0) is root.storage_probe(connection, 3.0)
    assert root.storage_probe(connection, 3.0) is not root.storage_probe(connection, 4.0)
    probe = root.storage_probe(connection, 3.0)
    root.reset()
    assert root.storage_probe(connection, 3.0) is not probe
