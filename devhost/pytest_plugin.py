"""pytest fixtures for devhost: `devhost_factory` starts hosts that are always stopped afterwards.

Enable with `pytest_plugins = ["devhost.pytest_plugin"]` in a conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import DevHostProcess


@pytest.fixture
def devhost_factory(tmp_path: Path) -> Iterator[Callable[..., DevHostProcess]]:
    """Make (not start) DevHostProcess objects with state under tmp_path; all stopped at the end."""
    hosts: list[DevHostProcess] = []

    def make(app_dir: Path | str, **kwargs: Any) -> DevHostProcess:
        kwargs.setdefault("state_dir", tmp_path / f"devhost-{len(hosts)}")
        host = DevHostProcess(app_dir, **kwargs)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()
