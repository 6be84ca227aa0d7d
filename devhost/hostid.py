"""The host id naming an app's timer status, locks and blob receipts, shared by its hosts."""

from __future__ import annotations

import os
import re
from pathlib import Path


def host_id_for(app_dir: Path) -> str:
    """The host id that names this app's timer status and locks (like the host's HostId)."""
    configured = os.environ.get("AzureFunctionsWebHost__hostid")
    base = configured or app_dir.resolve().name
    cleaned = re.sub(r"[^a-z0-9-]", "-", base.lower()).strip("-") or "devhost"
    return cleaned[:32]
