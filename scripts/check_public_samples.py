"""Runs Microsoft's public Durable Functions Python samples, unmodified, on devhost.

Usage: .venv/bin/python scripts/check_public_samples.py PATH_TO_AZURE_FUNCTIONS_DURABLE_PYTHON

Each sample directory is copied to a temporary folder (nothing is written to the checkout or to
this repository), started with `python -m devhost start`, driven through its own HTTP starter,
and its orchestration output is compared with what Microsoft documents. Prints PASS or FAIL per
sample and exits non-zero if any sample fails.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# samples-v2/function_chaining/README.md sends readers to the "Function chaining" tutorial
# (learn.microsoft.com/azure/azure-functions/durable/durable-functions-sequence), whose
# orchestrator "returns ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]".
CHAIN_OUTPUT = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


@dataclass(frozen=True)
class Sample:
    """One sample: where it lives, how to start it, and the documented results."""

    directory: str
    starter: str  # path and method of the sample's own HTTP starter
    method: str
    expected_output: Any
    # Plain HTTP functions: path -> documented response text.
    http_checks: dict[str, str] = field(default_factory=dict)


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
]


class SampleFailed(Exception):
    """The sample did not produce its documented result; the message says where."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_devhost(app_dir: Path, work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = work / "devhost.log"
    command = [sys.executable, "-m", "devhost", "start", str(app_dir), "--port", str(port)]
    command += ["--no-azurite", "--state-dir", str(work / "state")]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
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


def run_orchestration(sample: Sample, base_url: str) -> Any:
    started = requests.request(sample.method, base_url + sample.starter, timeout=30)
    print(f"  {sample.method} {sample.starter} -> {started.status_code}")
    if started.status_code != 202:
        raise SampleFailed(f"starter answered {started.status_code}: {started.text[:500]}")
    status_url = started.json()["statusQueryGetUri"]
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


def check_sample(sample: Sample, checkout: Path, trim: bool = False) -> bool:
    """Raise SampleFailed unless the sample gives its documented results; True if modified."""
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
        process, base_url, log_path = start_devhost(app_dir, work)
        try:
            output = run_orchestration(sample, base_url)
            if output != sample.expected_output:
                raise SampleFailed(f"output {output!r}, documented {sample.expected_output!r}")
            for path, text in sample.http_checks.items():
                response = requests.get(base_url + path, timeout=30)
                print(f"  GET {path} -> {response.status_code} {response.text!r}")
                if response.status_code != 200 or response.text != text:
                    raise SampleFailed(f"{path} answered {response.status_code} {response.text!r}")
        finally:
            stop(process)
            print("  devhost log (last lines):\n    " + tail(log_path, 6).replace("\n", "\n    "))
    return modified


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
            modified = check_sample(sample, args.checkout.resolve(), args.trim_host_json)
        except SampleFailed as exc:
            failures += 1
            print(f"FAIL {sample.directory}: {exc}")
            if "host.json is not valid JSON" in str(exc):
                print("  (the Functions host refuses this host.json too; see --trim-host-json)")
            print()
        else:
            note = " (MODIFIED: host.json trimmed)" if modified else ""
            print(f"PASS{note} {sample.directory}: output {sample.expected_output!r}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
