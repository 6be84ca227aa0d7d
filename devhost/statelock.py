"""One devhost per state directory: an exclusive lock held for as long as it runs.

Two devhosts on one state directory (both started in one app directory without --state-dir,
say a main and an express one) would both run the same instances, timers and activities from
one SQLite store. The kernel drops the lock when the process ends, killed or not.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "devhost.lock"


class StateDirInUse(OSError):
    """Another devhost runs on this state directory; the message says which and what to do."""


class StateDirLock:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateDirInUse(
                f"the state directory {self.state_dir} is in use by another devhost (pid "
                f"{holder}); give each devhost its own --state-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
