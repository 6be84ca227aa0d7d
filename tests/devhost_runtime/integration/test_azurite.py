"""Integration tests for devhost.azurite: a real emulator starts, serves, leaves nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite, AzuriteError, port_is_listening


def process_group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def fake_launcher(root: Path, script: str) -> Path:
    """A project root whose node_modules/.bin/azurite is a shell script standing in for Azurite."""
    launcher = root / "node_modules" / ".bin" / "azurite"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\n" + script)
    launcher.chmod(0o755)
    return root


def test_connection_string_works_for_blobs(azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("azurite-blob-check")

    container.upload_blob("hello.txt", b"hello", overwrite=True)

    assert container.download_blob("hello.txt").readall() == b"hello"


def test_connection_string_works_for_tables(azurite: Azurite) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table_if_not_exists("azuritecheck")

    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 42})

    assert table.get_entity("p", "r")["value"] == 42


def test_all_three_services_listen(azurite: Azurite) -> None:
    assert azurite.is_running
    assert all(port_is_listening(azurite.host, port) for port in azurite.ports)


def test_stop_leaves_no_process_and_frees_the_ports(tmp_path: Path, project_root: Path) -> None:
    instance = Azurite(tmp_path / "data", project_root=project_root)
    instance.start()
    pid = instance.pid
    assert pid is not None and process_group_exists(pid)

    instance.stop()

    assert not instance.is_running
    assert not process_group_exists(pid)
    assert not any(port_is_listening(instance.host, port) for port in instance.ports)
    instance.stop()  # idempotent


def test_data_survives_a_restart_on_the_same_location(tmp_path: Path, project_root: Path) -> None:
    location = tmp_path / "data"
    with Azurite(location, project_root=project_root) as first:
        blobs = BlobServiceClient.from_connection_string(first.connection_string)
        blobs.create_container("kept").upload_blob("a.txt", b"still here")

    with Azurite(location, project_root=project_root) as second:
        blobs = BlobServiceClient.from_connection_string(second.connection_string)
        assert blobs.get_container_client("kept").download_blob("a.txt").readall() == b"still here"


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, project_root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(AzuriteError, match=f"{port}.*already in use"):
            Azurite(tmp_path, blob_port=port, project_root=project_root).start()


def test_early_exit_reports_the_log_tail(tmp_path: Path) -> None:
    root = fake_launcher(
        tmp_path / "project", 'echo "cannot open workspace: disk full" >&2\nexit 3\n'
    )
    instance = Azurite(tmp_path / "data", project_root=root)

    with pytest.raises(AzuriteError, match=r"code 3(.|\n)*disk full"):
        instance.start(timeout=10)
    assert not instance.is_running


def test_a_lost_port_race_is_retried_on_fresh_ports(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    script = f'echo run >> "{runs}"\necho "Error: listen EADDRINUSE" >&2\nexit 1\n'
    instance = Azurite(tmp_path / "data", project_root=fake_launcher(tmp_path / "project", script))

    with pytest.raises(AzuriteError, match="EADDRINUSE"):
        instance.start(timeout=10)
    assert runs.read_text().count("run") == 3


def test_timeout_kills_what_it_started(tmp_path: Path) -> None:
    root = fake_launcher(tmp_path / "project", "echo started\nexec sleep 60\n")
    instance = Azurite(tmp_path / "data", project_root=root)

    with pytest.raises(AzuriteError, match=r"did not listen(.|\n)*started"):
        instance.start(timeout=0.5)
    assert not instance.is_running
    log = instance.log_path.read_text()
    assert "--location" in log  # the command line is logged first


@pytest.mark.slow
def test_an_orphan_from_a_killed_owner_is_reaped(tmp_path: Path, project_root: Path) -> None:
    location = tmp_path / "data"
    # A separate interpreter starts Azurite and dies without cleanup, as under kill -9.
    owner = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(project_root)!r})
        from pathlib import Path
        from devhost.azurite import Azurite
        instance = Azurite(Path({str(location)!r}), project_root=Path({str(project_root)!r}))
        instance.start()
        print(instance.pid, *instance.ports, flush=True)
        os._exit(0)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", owner], capture_output=True, text=True, check=True, timeout=60
    )
    orphan_pid, *ports = (int(word) for word in completed.stdout.split())
    try:
        assert process_group_exists(orphan_pid)

        blob, queue, table = ports
        with Azurite(
            location, blob_port=blob, queue_port=queue, table_port=table, project_root=project_root
        ) as replacement:
            assert not process_group_exists(orphan_pid)
            assert replacement.pid != orphan_pid
    finally:
        if process_group_exists(orphan_pid):
            os.killpg(orphan_pid, 9)
