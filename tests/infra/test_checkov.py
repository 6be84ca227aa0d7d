"""checkov's Bicep scan passes with no failed check, and every skipped check is one the security
review accepted: listed, with its reason, in docs/infra.md. An unlisted skip fails."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest


def _checkov(repo: Path) -> str:
    """checkov lives in .venv/checkov (scripts/install_infra_tools.sh): it cannot share .venv."""
    candidates = [os.environ.get("CHECKOV", ""), str(repo / ".venv/checkov/bin/checkov")]
    candidates.append(shutil.which("checkov") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("checkov is not installed: run scripts/install_infra_tools.sh")


@pytest.fixture(scope="module")
def report(h) -> dict:
    """One checkov run for the whole module (it takes seconds)."""
    result = subprocess.run(
        [
            _checkov(h.REPO),
            "--directory",
            str(h.INFRA),
            "--framework",
            "bicep",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


def unlisted_skips(skipped: list[dict], reviewed: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(check["check_id"], check["resource"]) for check in skipped} - reviewed


def _reviewed(h) -> set[tuple[str, str]]:
    return {
        (h.code_spans(row["Check"])[0], h.code_spans(row["Resource"])[0])
        for row in h.docs_table("Security review: checkov skips")
    }


# Types checkov has Bicep checks for: a file holding one of them must show up in the report.
CHECKED_TYPES = (
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Web/sites",
    "Microsoft.Web/serverfarms",
    "Microsoft.KeyVault/vaults",
)


def test_checkov_scanned_every_template(report, templates, h):
    assert report["check_type"] == "bicep"
    assert report["summary"]["parsing_errors"] == 0
    scanned = {
        c["file_path"]
        for k in ("passed_checks", "failed_checks", "skipped_checks")
        for c in report["results"][k]
    }
    expected = {"/" + file for kind in CHECKED_TYPES for file, _, _ in h.resources(templates, kind)}
    assert expected and expected <= scanned, expected - scanned


def test_no_check_fails(report):
    failed = [
        (c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]
    ]
    assert not failed


def test_every_skip_is_in_the_reviewed_table(report, h):
    assert not unlisted_skips(report["results"]["skipped_checks"], _reviewed(h))


def test_every_reviewed_skip_is_still_needed(report, h):
    skipped = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    assert _reviewed(h) <= skipped, f"stale rows: {_reviewed(h) - skipped}"


def test_every_skip_gives_its_reason(report, h):
    for check in report["results"]["skipped_checks"]:
        comment = check["check_result"].get("suppress_comment", "")
        assert comment and comment != "No comment provided", check["check_id"]
    for row in h.docs_table("Security review: checkov skips"):
        assert len(row["Reason"]) > 20, row


def test_an_unlisted_skip_is_caught(h):
    skipped = [{"check_id": "CKV_AZURE_35", "resource": "Microsoft.Storage/storageAccounts.other"}]
    assert unlisted_skips(skipped, _reviewed(h)) == {
        ("CKV_AZURE_35", "Microsoft.Storage/storageAccounts.other")
    }


def test_skips_are_inline_only(h):
    """A global skip (config file or --skip-check) would hide a check from every resource."""
    for name in (".checkov.yaml", ".checkov.yml"):
        assert not (h.REPO / name).exists() and not (h.INFRA / name).exists()


def _skip_comments(h) -> set[tuple[str, str]]:
    """(check, `type.symbol`) of every `checkov:skip=` comment in the templates, attributed to
    the resource declared above it, whether or not checkov runs that check."""
    found = set()
    declaration = re.compile(r"^\s*resource (\w+) '([^@']+)@")
    skip = re.compile(r"checkov:skip=([A-Za-z0-9_]+)")
    for path in h.INFRA.rglob("*.bicep"):
        current = None
        for line in path.read_text().splitlines():
            if match := declaration.match(line):
                current = f"{match.group(2)}.{match.group(1)}"
            for check in skip.findall(line):
                assert current, f"{path}: a skip outside any resource"
                found.add((check, current))
    return found


def test_every_skip_comment_is_in_the_reviewed_table(h):
    """Also catches a skip of a check checkov does not run for the resource (never reported)."""
    assert _skip_comments(h) == _reviewed(h)
