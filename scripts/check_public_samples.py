"""Runs Microsoft's public Durable Functions Python samples, unmodified, on devhost.

Usage: .venv/bin/python scripts/check_public_samples.py PATH_TO_AZURE_FUNCTIONS_DURABLE_PYTHON

Each sample directory is copied to a temporary folder (nothing is written to the checkout or to
this repository), started with `python -m devhost start`, driven through its own HTTP starter,
and its orchestration output is compared with what Microsoft documents. Prints PASS or FAIL per
sample and exits non-zero if any sample fails.

samples-v2/fan_in_fan_out backs up a directory to blob storage: the script builds a small
directory to back up, sets AzureWebJobsStorage=UseDevelopmentStorage=true as the sample's tutorial
has the user do (in devhost's environment, not in the copy), lets devhost start Azurite, and
checks the uploaded blobs as well as the byte total.

--trim-host-json is a diagnostic, off by default: samples-v2/function_chaining/host.json holds two
JSON objects back to back, which the Functions host refuses ("Unable to parse host configuration
file", Newtonsoft's JObject.Parse) and so does devhost. With the flag, the temporary copy keeps only
the first object, so the sample's code can still be checked; such a run is reported as MODIFIED.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# samples-v2/function_chaining/README.md sends readers to the "Function chaining" tutorial
# (learn.microsoft.com/azure/azure-functions/durable/durable-functions-sequence), whose
# orchestrator "returns ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]".
CHAIN_OUTPUT = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


@dataclass
class Run:
    """What one run of a sample sends, expects and needs around it."""

    body: Any = None  # the starter's JSON body; None sends no body
    expected_output: Any = None
    # App settings the sample's instructions tell the user to set (as local.settings.json
    # Values; passed in the environment, so the sample's directory stays untouched).
    settings: dict[str, str] = field(default_factory=dict)
    verify: Callable[[], None] | None = None  # checks side effects once the output matched


@dataclass(frozen=True)
class Sample:
    """One sample: where it lives, how to start it, and the documented results."""

    directory: str
    starter: str  # path and method of the sample's own HTTP starter
    method: str
    expected_output: Any
    # Plain HTTP functions: path -> documented response text.
    http_checks: dict[str, str] = field(default_factory=dict)
    # Builds the run's input in a scratch directory, for samples whose input is data.
    prepare: Callable[[Path], Run] | None = None

    def run(self, scratch: Path) -> Run:
        return self.prepare(scratch) if self.prepare else Run(expected_output=self.expected_output)


# samples-v2/fan_in_fan_out/README.md points to the "Fan-out/fan-in scenario" tutorial
# (learn.microsoft.com/azure/azure-functions/durable/durable-functions-cloud-backup): POST a
# directory path to /api/orchestrators/E2_BackupSiteContent; E2_GetFileList lists the files named
# __init__.py or function.json under folders whose path contains "E2_", E2_CopyFileToBlob uploads
# each to the "backups" container as "<folder>_<file>" and returns its size, and the orchestrator
# returns the total number of bytes. The tutorial has the app use development storage
# (AzureWebJobsStorage=UseDevelopmentStorage=true, i.e. Azurite).
BACKUP_CONTAINER = "backups"


def prepare_backup(scratch: Path) -> Run:
    """A small site to back up: matching files of known sizes, plus files the sample skips."""
    root = scratch / "site"
    tag = uuid.uuid4().hex[:8]  # unique blob names, in case Azurite already holds backups
    files = {
        f"E2_Orchestrator{tag}/__init__.py": "def main():\n    return 1\n",
        f"E2_Orchestrator{tag}/function.json": '{"bindings": []}\n',
        f"E2_Activity{tag}/__init__.py": "# copy a file\n" * 40,
        f"E2_Activity{tag}/function.json": '{"bindings": [{"type": "activityTrigger"}]}',
        f"E2_Activity{tag}/README.md": "not listed: another file name\n",
        "shared/__init__.py": "# not listed: the folder has no E2_\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = {
        relative.replace("/", "_"): len(text.encode("utf-8"))
        for relative, text in files.items()
        if relative.startswith("E2_")
        and relative.rsplit("/", 1)[1] in ("__init__.py", "function.json")
    }

    def verify() -> None:
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string("UseDevelopmentStorage=true")
        container = service.get_container_client(BACKUP_CONTAINER)
        stored = {blob.name: blob.size for blob in container.list_blobs() if tag in blob.name}
        print(f"  blobs in '{BACKUP_CONTAINER}' from this run: {json.dumps(stored)}")
        if stored != expected:
            raise SampleFailed(f"blobs {stored!r}, expected {expected!r}")

    return Run(
        body=str(root),
        expected_output=sum(expected.values()),
        settings={"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
        verify=verify,
    )


SAMPLES = [
    Sample(
        "samples-v2/function_chaining", "/api/orchestrators/my_orchestrator", "POST", CHAIN_OUTPUT
    ),
    # samples-v2/blueprint has no README. Its orchestrator is the same chain as above (its
    # source says "We define a standard function-chaining DF pattern"), so the tutorial's output
    # applies; the HTTP function's texts are the literals in the sample's function_app.py.
    Sample(
        "samples-v2/blueprint",
        "/api/startOrchestrator",
        "GET",
        CHAIN_OUTPUT,
        {
            "/api/HttpTrigger?name=Ada": (
                "Hello, Ada. This HTTP triggered function executed successfully."
            ),
        },
    ),
    Sample(
        "samples-v2/fan_in_fan_out",
        "/api/orchestrators/E2_BackupSiteContent",
        "POST",
        None,
        prepare=prepare_backup,
    ),
]


class SampleFailed(Exception):
    """The sample did not produce its documented result; the message says where."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_devhost(
    app_dir: Path, work: Path, settings: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = work / "devhost.log"
    command = [sys.executable, "-m", "devhost", "start", str(app_dir), "--port", str(port)]
    command += ["--state-dir", str(work / "state")]
    if settings.get("AzureWebJobsStorage", "").lower() != "usedevelopmentstorage=true":
        command.append("--no-azurite")  # devhost starts Azurite only for development storage
    env = {**os.environ, **settings, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    print("  $", " ".join(command))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SampleFailed(f"devhost exited ({process.returncode}): {tail(log_path)}")
        try:
            if requests.get(base_url + "/admin/host/status", timeout=1).ok:
                return process, base_url, log_path
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SampleFailed(f"devhost did not start within 60s: {tail(log_path)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_orchestration(sample: Sample, base_url: str, body: Any = None) -> Any:
    started = requests.request(
        sample.method,
        base_url + sample.starter,
        json=body,
        timeout=30,
    )
    shown = f" {json.dumps(body)}" if body is not None else ""
    print(f"  {sample.method} {sample.starter}{shown} -> {started.status_code}")
    if started.status_code != 202:
        raise SampleFailed(f"starter answered {started.status_code}: {started.text[:500]}")
    return wait_for_output(started.json()["statusQueryGetUri"])


def wait_for_output(status_url: str) -> Any:
    """Poll an instance's status URL until it finishes; its output if it Completed."""
    print(f"  GET {status_url}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = requests.get(status_url, timeout=30)
        if response.status_code != 202:
            status = response.json()
            print(f"  -> {response.status_code} {json.dumps(status)}")
            if status.get("runtimeStatus") != "Completed":
                raise SampleFailed(f"orchestration ended {status.get('runtimeStatus')}")
            return status["output"]
        time.sleep(0.1)
    raise SampleFailed("orchestration still running after 60s")


def trim_host_json(app_dir: Path) -> bool:
    """Keep only the first JSON object of host.json; True if anything was cut."""
    path = app_dir / "host.json"
    text = path.read_text(encoding="utf-8-sig")
    first, end = json.JSONDecoder().raw_decode(text.lstrip())
    if not text.lstrip()[end:].strip():
        return False
    path.write_text(json.dumps(first, indent=2), encoding="utf-8")
    return True


def check_sample(sample: Sample, checkout: Path, trim: bool = False) -> tuple[bool, Any]:
    """Raise SampleFailed unless the sample gives its documented results; whether the copy was
    modified, and the output."""
    source = checkout / sample.directory
    if not (source / "function_app.py").exists():
        raise SampleFailed(f"{source} has no function_app.py")
    with tempfile.TemporaryDirectory(prefix="public-sample-") as tmp:
        work = Path(tmp)
        app_dir = work / source.name
        shutil.copytree(source, app_dir)
        modified = trim and trim_host_json(app_dir)
        if modified:
            print("  MODIFIED: the copy's host.json was trimmed to its first JSON object")
        run = sample.run(work)
        process, base_url, log_path = start_devhost(app_dir, work, run.settings)
        try:
            output = run_orchestration(sample, base_url, run.body)
            if output != run.expected_output:
                raise SampleFailed(f"output {output!r}, documented {run.expected_output!r}")
            if run.verify is not None:
                run.verify()
            for path, text in sample.http_checks.items():
                response = requests.get(base_url + path, timeout=30)
                print(f"  GET {path} -> {response.status_code} {response.text!r}")
                if response.status_code != 200 or response.text != text:
                    raise SampleFailed(f"{path} answered {response.status_code} {response.text!r}")
        finally:
            stop(process)
            print("  devhost log (last lines):\n    " + tail(log_path, 6).replace("\n", "\n    "))
    return modified, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of azure-functions-durable-python")
    parser.add_argument(
        "--trim-host-json",
        action="store_true",
        help="diagnostic: keep only the first JSON object of an invalid host.json (MODIFIED run)",
    )
    args = parser.parse_args(argv)
    failures = 0
    for sample in SAMPLES:
        print(f"{sample.directory}:")
        try:
            modified, output = check_sample(sample, args.checkout.resolve(), args.trim_host_json)
        except SampleFailed as exc:
            failures += 1
            print(f"FAIL {sample.directory}: {exc}")
            if "host.json is not valid JSON" in str(exc):
                print("  (the Functions host refuses this host.json too; see --trim-host-json)")
            print()
        else:
            note = " (MODIFIED: host.json trimmed)" if modified else ""
            print(f"PASS{note} {sample.directory}: output {output!r}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
