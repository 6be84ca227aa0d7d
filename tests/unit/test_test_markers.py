"""The markers tests/conftest.py adds by place: its lists name real files, and they apply."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_every_file_listed_as_devhost_runtime_exists(
    project_root: Path, test_subjects: dict[str, frozenset[str]]
) -> None:
    tests = project_root / "tests"
    missing = sorted(p for p in test_subjects["devhost_runtime"] if not (tests / p).is_file())
    assert missing == [], f"listed in tests/conftest.py DEVHOST_RUNTIME but not there: {missing}"


def test_every_tier_is_a_folder_and_the_fast_ones_are_tiers(
    project_root: Path, test_subjects: dict[str, frozenset[str]]
) -> None:
    assert all((project_root / "tests" / tier).is_dir() for tier in test_subjects["tiers"])
    assert test_subjects["fast_tiers"] <= test_subjects["tiers"]


def test_a_unit_test_is_marked_unit_fast_and_app(request: pytest.FixtureRequest) -> None:
    marks = {mark.name for mark in request.node.iter_markers()}
    assert {"unit", "fast", "app"} <= marks
    assert not marks & {"integration", "e2e", "infra", "devhost_runtime"}
