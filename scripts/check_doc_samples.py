"""Runs the Python samples of the Durable Functions documentation, unmodified, on devhost.

Usage:
  .venv/bin/python scripts/check_doc_samples.py DOCS_DIR
  .venv/bin/python scripts/check_doc_samples.py --from-github [REF]

DOCS_DIR holds the Learn markdown sources (a clone or extract of MicrosoftDocs/azure-docs; files
are found by name anywhere under it). --from-github downloads them from raw.githubusercontent.com
into a temporary directory instead.

For each feature the script takes the Python-tab code blocks of the named sections (in the
"durable-functions" zone), checks they are v2-model code, concatenates them in page order into a
temporary app (function_app.py + host.json; nothing is written to this repository), adds the
`DFApp` object only when the snippets use it without defining it (the line is taken from the
bindings page's own v2 sample), starts devhost on it, drives it through its documented triggers
and compares with the documented results. Prints one line per sample:

  PASS      ran unmodified; any added line is boilerplate a page prescribes (listed)
  MODIFIED  ran, but needed an addition no page prescribes (listed)
  FAIL      did not give the documented result (the reason)
  SKIP      the page has no v2-model Python sample for this (what it has instead)

Exits non-zero if any sample FAILs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as a script: make `scripts.*` importable
    sys.path.insert(0, str(PROJECT_ROOT))

from scripts.check_public_samples import (  # noqa: E402
    SampleFailed,
    start_devhost,
    stop,
    tail,
    wait_for_output,
)
from scripts.doc_snippets import (  # noqa: E402
    Addition,
    app_object_line,
    assemble,
    model_of,
    parse_page,
    python_blocks,
    python_tab_text,
)

GITHUB_RAW = "https://raw.githubusercontent.com/MicrosoftDocs/azure-docs/{ref}/{path}"
# Newest location first; the pages moved from azure-functions/durable/ in 2026.
PAGE_PATHS = {
    "entities": [
        "articles/durable-task/common/durable-task-entities.md",
        "articles/azure-functions/durable/durable-functions-entities.md",
    ],
    "instance-management": [
        "articles/durable-task/common/durable-task-instance-management.md",
        "articles/azure-functions/durable/durable-functions-instance-management.md",
    ],
    "http-features": [
        "articles/durable-task/durable-functions/durable-functions-http-features.md",
        "articles/azure-functions/durable/durable-functions-http-features.md",
    ],
    "bindings": [
        "articles/durable-task/durable-functions/durable-functions-bindings.md",
        "articles/azure-functions/durable/durable-functions-bindings.md",
    ],
}
ZONE = "durable-functions"
# The bindings page's prerequisites: "Extension bundle version 4.x (or a later version), which
# is set in the host.json project file".
HOST_JSON = {
    "version": "2.0",
    "extensionBundle": {
        "id": "Microsoft.Azure.Functions.ExtensionBundle",
        "version": "[4.*, 5.0.0)",
    },
}
HOST_JSON_SOURCE = "bindings page, Prerequisites (extension bundle 4.x in host.json)"


@dataclass(frozen=True)
class DocSample:
    """Sections of one page whose Python snippets form one app, and how to check it."""

    name: str
    page: str  # key of PAGE_PATHS
    sections: tuple[str, ...]
    drive: Callable[[str], str] | None  # base URL -> what it observed; raises SampleFailed


def find_page(docs: Path, key: str) -> Path | None:
    for relative in PAGE_PATHS[key]:
        name = relative.rsplit("/", 1)[1]
        if (docs / relative).is_file():
            return docs / relative
        found = sorted(docs.rglob(name))
        if found:
            return found[0]
    return None


def download_pages(ref: str, target: Path) -> None:
    """Fetch every page in PAGE_PATHS that exists at ref; SampleFailed if none could be."""
    fetched = 0
    for paths in PAGE_PATHS.values():
        for relative in paths:
            url = GITHUB_RAW.format(ref=ref, path=relative)
            try:
                with urllib.request.urlopen(url, timeout=15) as response:
                    data = response.read()
            except OSError as exc:
                print(f"  could not fetch {url}: {exc}")
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(data)
            fetched += 1
            break
    if not fetched:
        raise SampleFailed("no documentation page could be downloaded")


# --- drivers: each documents where its expected results come from -------------------------


def get_text(base_url: str, path: str) -> tuple[int, str]:
    response = requests.get(base_url + path, timeout=30)
    print(f"  GET {path} -> {response.status_code} {response.text!r}")
    return response.status_code, response.text


def expect_text(base_url: str, path: str, expected: str, within: float = 0.0) -> None:
    """GET path until it answers 200 with the expected text (entity reads are eventually
    consistent: a signal is one-way and asynchronous, the page says)."""
    deadline = time.monotonic() + within
    while True:
        status, text = get_text(base_url, path)
        if status == 200 and text == expected:
            return
        if time.monotonic() >= deadline:
            raise SampleFailed(f"{path} answered {status} {text!r}, documented {expected!r}")
        time.sleep(0.2)


def drive_counter(base_url: str) -> str:
    """The entities page's Counter entity, http_set, http_read and orchestrator snippets.

    - http_read answers "No state found" while the entity does not exist, else str(state)
      (the snippet's own literals);
    - http_set signals add 1 and answers 200 "Done";
    - the orchestrator signals add 3, then calls get and returns the state. The page says
      entities run one operation at a time and (in "Comparison with virtual actors") deliver
      messages reliably and in order, so the call sees the signal: 1 + 3 = 4.
    The page has no starter for the orchestrator; the extension's built-in "start new
    orchestration" HTTP API (listed on the HTTP features page) starts it without code.
    """
    expect_text(base_url, "/api/entityreadvalue", "No state found")
    expect_text(base_url, "/api/entitysetvalue", "Done")
    expect_text(base_url, "/api/entityreadvalue", "1", within=30)
    started = requests.post(
        base_url + "/runtime/webhooks/durabletask/orchestrators/orchestrator", timeout=30
    )
    print(
        f"  POST /runtime/webhooks/durabletask/orchestrators/orchestrator -> {started.status_code}"
    )
    if started.status_code != 202:
        raise SampleFailed(f"start answered {started.status_code}: {started.text[:300]}")
    output = wait_for_output(started.json()["statusQueryGetUri"])
    if output != 4:
        raise SampleFailed(f"orchestrator output {output!r}, documented 4 (1 + 3)")
    expect_text(base_url, "/api/entityreadvalue", "4", within=30)
    return "read 'No state found', set 'Done', read '1', orchestrator output 4, read '4'"


SAMPLES = [
    DocSample(
        "entities: Counter + client signal/read + orchestrator signal/call",
        "entities",
        (
            "Define entities",
            "Example: client signals an entity",
            "Example: client reads an entity state",
            "Example: orchestration signals and calls an entity",
        ),
        drive_counter,
    ),
    DocSample(
        "instance management: query with filters",
        "instance-management",
        ("Query instances with filters",),
        None,
    ),
    DocSample(
        "instance management: terminate", "instance-management", ("Terminate instances",), None
    ),
    DocSample(
        "instance management: suspend and resume",
        "instance-management",
        ("Suspend and resume instances",),
        None,
    ),
    DocSample("instance management: rewind", "instance-management", ("Rewind instances",), None),
    DocSample("instance management: restart", "instance-management", ("Restart instances",), None),
    DocSample(
        "instance management: purge", "instance-management", ("Purge instance history",), None
    ),
    DocSample("call_http: consume HTTP APIs", "http-features", ("Consume HTTP APIs",), None),
    DocSample(
        "call_http: HTTP 202 handling", "http-features", ("HTTP 202 handling (.NET only)",), None
    ),
    DocSample("call_http: managed identities", "http-features", ("Managed identities",), None),
]


class Skipped(Exception):
    """The page shows no v2-model Python sample for this; the message says what it shows."""


def describe_non_v2(code: str) -> str:
    try:
        compile(code, "<snippet>", "exec")
    except SyntaxError as exc:
        syntax = f"; it is not valid Python either ({exc.msg}, snippet line {exc.lineno})"
    else:
        syntax = ""
    return f"the Python tab is v1-model code (main / function.json){syntax}"


def collect(sample: DocSample, docs: Path) -> tuple[list[str], Path]:
    path = find_page(docs, sample.page)
    if path is None:
        raise SampleFailed(
            f"no {sample.page} page under {docs} (looked for {PAGE_PATHS[sample.page]})"
        )
    page = parse_page(path.read_text(encoding="utf-8"))
    snippets: list[str] = []
    for section in sample.sections:
        blocks = python_blocks(page, section, ZONE)
        if not blocks:
            said = python_tab_text(page, section, ZONE)
            if said is None and not any(b.section == section for b in page.blocks):
                raise SampleFailed(f"{path.name} has no section {section!r}")
            raise Skipped(f"{section!r}: no Python code; the Python tab says {said!r}")
        for block in blocks:
            if model_of(block.code) != "v2":
                raise Skipped(f"{section!r} (line {block.line}): {describe_non_v2(block.code)}")
            snippets.append(block.code)
    return snippets, path


def bindings_app_line(docs: Path) -> tuple[str | None, str | None]:
    path = find_page(docs, "bindings")
    if path is None:
        return None, None
    for block in parse_page(path.read_text(encoding="utf-8")).blocks:
        if block.lang == "python" and (line := app_object_line(block.code)):
            return line, f"{path.name} line {block.line} (its v2 samples' app object)"
    return None, None


def check(sample: DocSample, docs: Path) -> tuple[str, list[Addition]]:
    snippets, page = collect(sample, docs)
    app_line, app_source = bindings_app_line(docs)
    source, additions = assemble(snippets, app_line, app_source)
    additions.append(Addition(0, "host.json " + json.dumps(HOST_JSON), HOST_JSON_SOURCE))
    print(
        f"  {len(snippets)} snippets from {page.name}; added: "
        + "; ".join(
            f"line {a.line}: {a.text!r} ({a.prescribed_by or 'NOT prescribed by any page'})"
            if a.line
            else f"{a.text} ({a.prescribed_by})"
            for a in additions
        )
    )
    if sample.drive is None:
        raise SampleFailed("no driver for a v2 sample")
    with tempfile.TemporaryDirectory(prefix="doc-sample-") as tmp:
        work = Path(tmp)
        app_dir = work / "app"
        app_dir.mkdir()
        (app_dir / "function_app.py").write_text(source, encoding="utf-8")
        (app_dir / "host.json").write_text(json.dumps(HOST_JSON, indent=2), encoding="utf-8")
        process, base_url, log_path = start_devhost(app_dir, work, {})
        try:
            observed = sample.drive(base_url)
        finally:
            stop(process)
            print("  devhost log (last lines):\n    " + tail(log_path, 6).replace("\n", "\n    "))
    return observed, additions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("docs", nargs="?", type=Path, help="directory with the Learn markdown")
    source.add_argument(
        "--from-github",
        metavar="REF",
        nargs="?",
        const="main",
        help="download the pages from raw.githubusercontent.com (default: main)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="learn-docs-") as downloaded:
        if args.from_github:
            docs = Path(downloaded)
            try:
                download_pages(args.from_github, docs)
            except SampleFailed as exc:
                print(f"FAIL documentation: {exc}")
                return 1
        else:
            docs = args.docs.resolve()
            if not docs.is_dir():
                parser.error(f"{docs} is not a directory")
        return run_all(docs)


def run_all(docs: Path) -> int:
    failures = 0
    for sample in SAMPLES:
        print(f"{sample.name}:")
        try:
            observed, additions = check(sample, docs)
        except Skipped as exc:
            print(f"SKIP {sample.name}: {exc}\n")
        except SampleFailed as exc:
            failures += 1
            print(f"FAIL {sample.name}: {exc}\n")
        else:
            verdict = "PASS" if all(a.prescribed_by for a in additions) else "MODIFIED"
            print(f"{verdict} {sample.name}: {observed}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
