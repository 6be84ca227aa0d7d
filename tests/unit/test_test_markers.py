"""The markers tests/conftest.py adds by place: its folders exist, and the markers apply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def test_every_tier_is_a_folder_and_the_fast_ones_are_tiers(
    project_root: Path, test_subjects: dict[str, frozenset[str]]
) -> None:
    tests = project_root / "tests"
    assert all((tests / tier).is_dir() for tier in test_subjects["tiers"])
    assert all((tests / tier).is_dir() for tier in test_subjects["devhost_runtime_tiers"])
    assert test_subjects["fast_tiers"] <= test_subjects["tiers"]


def test_a_unit_test_is_marked_unit_fast_and_app(request: pytest.FixtureRequest) -> None:
    marks = {mark.name for mark in request.node.iter_markers()}
    assert {"unit", "fast", "app"} <= marks
    assert not marks & {"integration", "e2e", "infra", "devhost_runtime"}


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        ("unit/test_x.py", ["unit", "fast", "app"]),
        ("integration/test_x.py", ["integration", "fast", "app"]),
        ("devhost/test_x.py", ["e2e", "app"]),
        ("infra/test_x.py", ["infra", "app"]),
        ("infra/platform/test_x.py", ["infra", "app"]),
        ("devhost_runtime/unit/test_x.py", ["unit", "fast", "devhost_runtime"]),
        ("devhost_runtime/integration/test_x.py", ["integration", "fast", "devhost_runtime"]),
        ("devhost_runtime/e2e/test_x.py", ["e2e", "devhost_runtime"]),
    ],
)
def test_a_file_is_marked_by_its_folders(
    project_root: Path,
    test_markers_for: Callable[[Path], list[str]],
    place: str,
    expected: list[str],
) -> None:
    assert test_markers_for(project_root / "tests" / place) == expected


def test_every_devhost_runtime_test_sits_in_a_tier_folder(
    project_root: Path, test_subjects: dict[str, frozenset[str]]
) -> None:
    tests = project_root / "tests"
    misplaced = sorted(
        path.relative_to(tests).as_posix()
        for path in (tests / "devhost_runtime").rglob("test_*.py")
        if path.parent.relative_to(tests).as_posix() not in test_subjects["devhost_runtime_tiers"]
    )
    assert misplaced == []
