"""Unit tests for devhost.azurite's helpers that need no running emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.azurite import (
    DEV_ACCOUNT_KEY,
    DEV_STORAGE_CONNECTION_STRING,
    Azurite,
    AzuriteError,
    AzuriteNotInstalledError,
    find_azurite,
    uses_development_storage,
)


@pytest.mark.parametrize(
    "value",
    [
        "UseDevelopmentStorage=true",
        "usedevelopmentstorage=TRUE",
        "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://127.0.0.1",
        DEV_STORAGE_CONNECTION_STRING,
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=x;"
        "BlobEndpoint=http://localhost:41000/devstoreaccount1;",
    ],
)
def test_recognises_development_storage(value: str) -> None:
    assert uses_development_storage(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "UseDevelopmentStorage=false",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=x;"
        "EndpointSuffix=core.windows.net",
        "BlobEndpoint=http://127.0.0.1:10000/a;QueueEndpoint=https://acct.queue.core.windows.net",
    ],
)
def test_rejects_real_accounts(value: str | None) -> None:
    assert not uses_development_storage(value)


def test_default_connection_string_uses_the_well_known_ports() -> None:
    for port in (10000, 10001, 10002):
        assert f"http://127.0.0.1:{port}/devstoreaccount1;" in DEV_STORAGE_CONNECTION_STRING
    assert f"AccountKey={DEV_ACCOUNT_KEY};" in DEV_STORAGE_CONNECTION_STRING


def test_port_zero_picks_three_distinct_free_ports(tmp_path: Path) -> None:
    instance = Azurite(tmp_path)

    assert len(set(instance.ports)) == 3
    assert all(port > 0 for port in instance.ports)
    assert f"BlobEndpoint={instance.blob_endpoint};" in instance.connection_string
    assert f"TableEndpoint={instance.table_endpoint};" in instance.connection_string


def test_explicit_ports_are_kept(tmp_path: Path) -> None:
    instance = Azurite(tmp_path, blob_port=20000, queue_port=20001, table_port=20002)

    assert instance.ports == (20000, 20001, 20002)
    assert "QueueEndpoint=http://127.0.0.1:20001/devstoreaccount1;" in instance.connection_string


def test_missing_install_tells_you_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(AzuriteNotInstalledError, match="npm ci"):
        find_azurite(tmp_path)

    with pytest.raises(AzuriteError, match="npm ci"):
        Azurite(tmp_path / "data", project_root=tmp_path).start()


def test_stop_before_start_is_harmless(tmp_path: Path) -> None:
    instance = Azurite(tmp_path)

    instance.stop()
    instance.stop()
    assert not instance.is_running
