"""Unit tests for app_config: storage connection resolution and settings with local defaults."""

from __future__ import annotations

import pytest

import app_config
from app_config import DEV_STORAGE_CONNECTION_STRING, StorageConnection, storage_connection

REAL_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;"
    "EndpointSuffix=core.windows.net"
)


def test_nothing_set_means_local_azurite() -> None:
    assert storage_connection({}) == StorageConnection(
        connection_string=DEV_STORAGE_CONNECTION_STRING
    )


@pytest.mark.parametrize(
    "value",
    ["UseDevelopmentStorage=true", "usedevelopmentstorage=TRUE;", " UseDevelopmentStorage=true "],
)
def test_use_development_storage_means_azurite_well_known_account(value: str) -> None:
    connection = storage_connection({"AzureWebJobsStorage": value})

    assert connection.connection_string == DEV_STORAGE_CONNECTION_STRING
    assert "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;" in DEV_STORAGE_CONNECTION_STRING


def test_a_connection_string_is_used_as_is() -> None:
    connection = storage_connection({"AzureWebJobsStorage": REAL_CONNECTION_STRING})

    assert connection.connection_string == REAL_CONNECTION_STRING
    assert connection.connection_string is not None


def test_the_connection_string_never_appears_in_repr() -> None:
    connection = storage_connection({"AzureWebJobsStorage": REAL_CONNECTION_STRING})

    assert "c2VjcmV0" not in repr(connection)


def test_identity_with_blob_service_uri() -> None:
    connection = storage_connection(
        {
            "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net",
            "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
        }
    )

    assert connection == StorageConnection(
        blob_service_uri="https://acct.blob.core.windows.net",
        managed_identity_client_id="00000000-0000-0000-0000-000000000001",
        table_service_uri="https://acct.table.core.windows.net",
        queue_service_uri="https://acct.queue.core.windows.net",
    )
    assert connection.connection_string is None


def test_identity_with_account_name_builds_the_public_cloud_uri() -> None:
    connection = storage_connection({"AzureWebJobsStorage__accountName": "acct"})

    assert connection.blob_service_uri == "https://acct.blob.core.windows.net"
    assert connection.managed_identity_client_id is None


def test_blob_service_uri_wins_over_account_name() -> None:
    connection = storage_connection(
        {
            "AzureWebJobsStorage__accountName": "other",
            "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.usgovcloudapi.net",
        }
    )

    assert connection.blob_service_uri == "https://acct.blob.core.usgovcloudapi.net"


def test_a_connection_string_wins_over_identity_settings() -> None:
    connection = storage_connection(
        {
            "AzureWebJobsStorage": REAL_CONNECTION_STRING,
            "AzureWebJobsStorage__accountName": "acct",
        }
    )

    assert connection.connection_string == REAL_CONNECTION_STRING


def test_an_empty_setting_counts_as_unset() -> None:
    connection = storage_connection(
        {"AzureWebJobsStorage": "  ", "AzureWebJobsStorage__accountName": "acct"}
    )

    assert connection.blob_service_uri == "https://acct.blob.core.windows.net"


def test_version_defaults_and_overrides() -> None:
    assert app_config.app_version({}) == "0.1.0"
    assert app_config.app_version({"APP_VERSION": "2.4.1"}) == "2.4.1"


def test_health_timeout_defaults_and_overrides() -> None:
    assert app_config.health_timeout_seconds({}) == 5.0
    assert app_config.health_timeout_seconds({"HEALTH_TIMEOUT_SECONDS": "1.5"}) == 1.5


@pytest.mark.parametrize("raw", ["soon", "0", "-3", "nan"])
def test_a_bad_health_timeout_is_an_error_not_ignored(raw: str) -> None:
    with pytest.raises(ValueError, match="HEALTH_TIMEOUT_SECONDS"):
        app_config.health_timeout_seconds({"HEALTH_TIMEOUT_SECONDS": raw})


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "9.9.9")

    assert app_config.app_version() == "9.9.9"
