"""One devhost per state directory: a second lock on it is refused until the first is released."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devhost.statelock import StateDirInUse, StateDirLock


def test_a_second_lock_is_refused_naming_the_holder_until_the_first_is_released(
    tmp_path: Path,
) -> None:
    first = StateDirLock(tmp_path)
    first.acquire()
    with pytest.raises(StateDirInUse) as refused:
        StateDirLock(tmp_path).acquire()
    assert str(refused.value) == (
        f"the state directory {tmp_path} is in use by another devhost (pid {os.getpid()}); "
        "give each devhost its own --state-dir"
    )
    first.release()
    second = StateDirLock(tmp_path)
    second.acquire()
    second.release()
