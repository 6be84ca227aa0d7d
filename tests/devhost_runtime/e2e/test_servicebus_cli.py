"""The one-shot commands of `python -m devhost`: send-message, upload, and their errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devhost.azurite import Azurite, port_is_listening
from devhost.connections import resolve_storage
from devhost.testing import PROJECT_ROOT, wait_until


def devhost(
    *args: str, env: dict[str, str], app_dir: Path, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    environ.pop("AzureWebJobsServiceBus", None)
    return subprocess.run(
        [sys.executable, "-m", "devhost", *args, "--app-dir", str(app_dir)],
        input=stdin,
        capture_output=True,
        env=environ,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def test_send_message_reads_local_settings_and_standard_input(
    azurite: Azurite, tmp_path: Path
) -> None:
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"AzureWebJobsStorage": azurite.connection_string}})
    )
    result = devhost(
        "send-message",
        "cli-orders",
        "-",
        "--message-id",
        "cli-1",
        "--scheduled-enqueue-time",
        "2099-01-01T00:00:00",
        env={"AzureWebJobsStorage": ""},
        app_dir=tmp_path,
        stdin=b'{"order": 1}',
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["accepted"] is True and shown["messageId"] == "cli-1"
    assert shown["scheduledEnqueueTimeUtc"] == "2099-01-01T00:00:00+00:00"


def test_upload_puts_a_blob_in_the_app_storage(azurite: Azurite, tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"\x89PNG fake")
    result = devhost(
        "upload",
        "uploads/pets/cat.png",
        str(picture),
        env={"AzureWebJobsStorage": azurite.connection_string},
        app_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["bytes"] == 9
    storage = resolve_storage(environ={"AzureWebJobsStorage": azurite.connection_string})
    blob = storage.blob_service().get_blob_client("uploads", "pets/cat.png")
    assert blob.download_blob().readall() == b"\x89PNG fake"
    assert blob.get_blob_properties().content_settings.content_type == "image/png"


def test_bad_arguments_are_clear_errors(azurite: Azurite, tmp_path: Path) -> None:
    env = {"AzureWebJobsStorage": azurite.connection_string}
    body = tmp_path / "body.txt"
    body.write_text("x")
    bad_property = devhost(
        "send-message", "q", str(body), "--property", "novalue", env=env, app_dir=tmp_path
    )
    assert bad_property.returncode == 1
    assert b"--property takes KEY=VALUE" in bad_property.stderr
    bad_blob = devhost("upload", "just-a-container", str(body), env=env, app_dir=tmp_path)
    assert bad_blob.returncode == 1 and b"container/path" in bad_blob.stderr


def test_resubmit_all_with_nothing_to_resubmit_exits_3(azurite: Azurite, tmp_path: Path) -> None:
    env = {"AzureWebJobsStorage": azurite.connection_string}
    result = devhost("dead-letters", "cli-empty", "--resubmit-all", env=env, app_dir=tmp_path)
    assert result.returncode == 3, result.stderr
    assert b"resubmitted 0 of 0 dead letter(s) to 'cli-empty'" in result.stderr
    shown = devhost("dead-letters", "--help", env=env, app_dir=tmp_path)
    assert b"exits 3 when none was resubmitted" in shown.stdout


def test_resubmit_all_exits_0_once_it_resubmitted_one(azurite: Azurite, tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    declaration = {
        "queues": [
            {"name": "cli-expiring", "properties": {"deadLetteringOnMessageExpiration": True}}
        ]
    }
    (tmp_path / "infra" / "servicebus.json").write_text(json.dumps(declaration))
    env = {"AzureWebJobsStorage": azurite.connection_string}
    sent = devhost(
        "send-message", "cli-expiring", "-", "--message-id", "exp-1", "--time-to-live", "PT0.2S",
        env=env, app_dir=tmp_path, stdin=b"x",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    # Receiving applies the expiry: wait until a receive has moved it to the dead letters.
    wait_until(
        lambda: (
            b"moved to the dead-letter queue"
            in devhost("receive", "cli-expiring", "--wait", "0", env=env, app_dir=tmp_path).stderr
        ),
        timeout=30,
    )
    resubmitted = devhost(
        "dead-letters", "cli-expiring", "--resubmit-all", env=env, app_dir=tmp_path
    )
    assert resubmitted.returncode == 0, resubmitted.stderr
    assert b"resubmitted 1 of 1 dead letter(s) to 'cli-expiring'" in resubmitted.stderr
    again = devhost("dead-letters", "cli-expiring", "--resubmit-all", env=env, app_dir=tmp_path)
    assert again.returncode == 3 and b"resubmitted 0 of 0" in again.stderr


@pytest.mark.skipif(
    port_is_listening("127.0.0.1", 10001), reason="development storage is running here"
)
def test_development_storage_that_is_not_running_is_named(tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("x")
    result = devhost(
        "send-message",
        "q",
        str(body),
        env={"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
        app_dir=tmp_path,
    )
    assert result.returncode == 1
    assert b"nothing listens on 127.0.0.1:10001" in result.stderr
