"""`make run`: the main app and the express app on devhost, one Azurite, until Ctrl+C.

The main app (port 7071) starts Azurite and serves everything but the express queue; the express
app (APP_ROLE=express, port 7072, its own task hub) runs express orders. The main app reaches
express orders through DEVHOST_TASK_HUBS, as in Azure it reaches them in the shared storage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUS = "/admin/host/status"


def express_hub(app_dir: Path) -> str:
    settings = json.loads((app_dir / "local.settings.json").read_text(encoding="utf-8"))
    return settings.get("Values", {}).get("EXPRESS_TASK_HUB_NAME") or "JobsExpress"


def devhost(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "devhost", "start", ".", "--port", str(port), *args]


def ready(process: subprocess.Popen[bytes], port: int, timeout: float = 120) -> bool:
    """True once devhost answers its status endpoint; False if it exits or times out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{STATUS}", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def prefixed(process: subprocess.Popen[bytes], prefix: str) -> threading.Thread:
    """Copy the process's output to ours, each line marked, so the two logs stay apart."""

    def copy() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(prefix + line.decode(errors="replace"))
            sys.stdout.flush()

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7071, help="the main app's port")
    parser.add_argument("--express-port", type=int, default=7072, help="the express app's port")
    args = parser.parse_args()
    hub = express_hub(ROOT)
    main_env = {**os.environ, "DEVHOST_TASK_HUBS": f"{hub}=http://127.0.0.1:{args.express_port}"}
    # Its own host id, as in Azure: the host keys timers and blob receipts by it.
    express_env = {
        **os.environ,
        "APP_ROLE": "express",
        "TASK_HUB_NAME": hub,
        "AzureFunctionsWebHost__hostid": "express",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        main_app = subprocess.Popen(devhost(args.port), cwd=ROOT, env=main_env)
        processes.append(main_app)
        if not ready(main_app, args.port):  # it started Azurite, which the express app shares
            print("The main app did not start; the express app is not started.", file=sys.stderr)
            return 1
        express_args = ["--state-dir", ".devhost/express", "--no-azurite"]
        express_app = subprocess.Popen(
            devhost(args.express_port, *express_args),
            cwd=ROOT,
            env=express_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(express_app)
        prefixed(express_app, "[express] ")
        if ready(express_app, args.express_port):
            print(f"Express orders run in task hub {hub} on port {args.express_port}", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        return next(process.returncode for process in processes if process.poll() is not None)
    except KeyboardInterrupt:  # the terminal sent SIGINT to both children too: they stop
        return 0
    finally:
        # The express app first: the main app owns the Azurite both use.
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
