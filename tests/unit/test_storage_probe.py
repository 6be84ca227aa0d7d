"""Unit tests for how adapters.storage_probe builds its client; no request is sent."""

from __future__ import annotations

from azure.identity import DefaultAzureCredential

from adapters.storage_probe import blob_service_client
from app_config import DEV_STORAGE_CONNECTION_STRING, StorageConnection


def test_identity_connection_uses_default_azure_credential_and_no_key() -> None:
    connection = StorageConnection(
        blob_service_uri="https://acct.blob.core.windows.net",
        managed_identity_client_id="00000000-0000-0000-0000-000000000001",
    )

    client = blob_service_client(connection, 3.0)

    assert client.url.startswith("https://acct.blob.core.windows.net")
    assert isinstance(client.credential, DefaultAzureCredential)


def test_connection_string_client_targets_its_blob_endpoint() -> None:
    connection = StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)

    client = blob_service_client(connection, 3.0)

    assert client.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
    assert client.account_name == "devstoreaccount1"


def test_clients_are_reused_for_the_same_settings() -> None:
    connection = StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)

    assert blob_service_client(connection, 3.0) is blob_service_client(connection, 3.0)
