"""The docs' shell sequences, run as written: every fenced `bash` block of README.md and docs/.

A block is run unless an HTML comment on the line before it says `<!-- docs-run: static (why) -->`:
what needs Azure, Core Tools or Docker, what starts servers of its own (`make run`, benchmarks),
what rewrites the repository, and synopses. Static blocks are checked here as text: bash parses
them and every repository file they name exists.

The run: one devhost (the app, wall-clock time, settings from `local.settings.json.example`, as
`make run` gives a newcomer) on a free port with an Azurite of its own (fresh storage), and each
document's blocks as one bash script in reading order, README first, in a linked copy of the
repository whose `local.settings.json` is the example's copy (as after `make run`), not the
developer's. Only what the reader's machine would differ in is rewritten: the port, the Python
interpreter, the monitor demo's port and file, and a leading `make run` (devhost is already
running). A `curl` ending in `# until "key": "value"` is repeated until its answer holds that, as a
reader would. Every curl call's status and key fields and every Python command's exit code are
compared with what the docs say they are (EXPECTED below), and where a doc shows an answer (an
```http or ```json block right after the commands) its status and every field but times, payment
and tracking ids and URLs must be what the last call of the block answered.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, free_port, linked_app
from scripts.doc_snippets import parse_page

DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
STATIC = re.compile(r"^<!-- docs-run: static \((.+)\) -->$")
UNTIL = re.compile(r'^(curl .*?)\s+# until ("[^"]+"): ("[^"]+")\s*$')
DOC_PORT = "http://localhost:7071"
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>\n'\"]*>")

# What each document's runnable blocks answer, in order: `http STATUS key=value ...` per curl
# call (dotted keys into the JSON body) and `exit CODE` per `.venv/bin/python` command.
EXPECTED: dict[str, list[str]] = {
    "README.md": [
        "exit 0",  # seed_stock
        "http 202 order_id=A-1001 runtime_status=Pending",
        "http 200 order_id=A-1001",
        # the claim, the message, its reply, the event, an upload, dead letters, a queue
        "exit 0",
        "exit 0",
        "exit 0",
        "exit 0",
        "exit 0",
        "exit 0",
        "exit 3",  # --resubmit-all with no dead letter on orders
        "exit 0",
    ],
    "docs/devhost-triggers.md": ["exit 0", "exit 0", "exit 0", "exit 3"],
    "docs/job-api.md": [
        "exit 0",
        "http 202 id=order-A-2001 type=order runtime_status=Pending duplicate=False",
        "http 200 id=order-A-2001 step=completed progress=100 result.status=Completed",
        "http 202 id=order-A-2002",
        "http 200 id=order-A-2002 step=awaiting_approval progress=55",
        "http 202 id=order-A-2002 message=cancellation requested",
        "http 200 id=order-A-2002 step=cancelled progress=100 result.status=Cancelled",
    ],
    "docs/monitor.md": [
        "http 202 id=monitor-demo-1 type=monitor",
        "http 200 id=monitor-demo-1 type=monitor",
        "http 202 id=monitor-demo-1 message=cancellation requested",
    ],
    "docs/operations.md": ["exit 0"],
    "docs/order-workflow.md": [
        "exit 0",
        "http 202 order_id=o-1001",
        "http 200 order_id=o-1001 output.status=Completed",
        "http 202 order_id=o-1002",
        "http 200 order_id=o-1002 custom_status.step=awaiting_approval",
        "exit 0",  # the token
        "http 202 order_id=o-1002 message=decision accepted",
        "http 200 order_id=o-1002 output.status=Completed",
        "http 202 order_id=o-1003",
        "http 200 order_id=o-1003 custom_status.step=awaiting_approval",
        "http 202 order_id=o-1003 message=cancellation requested",
        "http 200 order_id=o-1003 output.status=Cancelled",
        "exit 0",
        "exit 0",
        "http 200 order_id=q-3001 output.status=Completed",
    ],
    "docs/results.md": ["exit 0", "exit 0", "exit 0", "exit 0"],
    "docs/thumbnails.md": [
        "exit 0",
        # the same job the upload started: 202 while it still runs, 200 once it has finished
        "http 200|202 type=thumbnail",
        "exit 0",  # the id out of the answer
        "http 200 type=thumbnail step=completed progress=100 result.status=completed",
    ],
}
# Lines a document's output must hold (the documented answers that are not HTTP).
OUTPUT: dict[str, list[str]] = {
    "README.md": [
        '"accepted": true',
        "received 1 message(s) from 'replies'",
        "resubmitted 0 of 0 dead letter(s) to 'orders'",
        "exit 3",
    ],
    "docs/devhost-triggers.md": [
        "moved to the dead-letter queue: TTLExpiredException",
        '"deadLetterReason": "TTLExpiredException"',
        "resubmitted 0 of 1 dead letter(s) to 'replies'",
        '"droppedAsDuplicateOfSendAt"',
        "exit 3",
    ],
    "docs/operations.md": ['"entity": "orders/$deadletterqueue"'],
    "docs/results.md": ['"correlationId": "c-5"'],
}


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository
    line: int  # the fence's line, 1-based
    code: str
    static: str | None  # why it is not run, or None
    answer: str = ""  # a ```http or ```json block right after it: its last call's answer


def blocks() -> list[Block]:
    """Every ```bash block (found by scripts/doc_snippets.py, which the doc-sample checks use),
    the static marker before it and the answer shown right after it."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        doc = str(path.relative_to(PROJECT_ROOT))
        page = parse_page(text).blocks
        for index, block in enumerate(page):
            if block.lang != "bash":
                continue
            before = next((x for x in reversed(lines[: block.line - 1]) if x.strip()), "")
            marker = STATIC.match(before.strip())
            closing = block.line + block.code.count("\n") + 1  # the closing fence, 1-based
            after = page[index + 1] if index + 1 < len(page) else None
            answer = ""
            if (
                after is not None
                and after.lang in ("http", "json")
                and not any(x.strip() for x in lines[closing : after.line - 1])
            ):
                answer = after.code.rstrip("\n")
            why = marker.group(1) if marker else None
            found.append(Block(doc, block.line, block.code, why, answer))
    return found


BLOCKS = blocks()
RUN_DOCS = list(dict.fromkeys(b.doc for b in BLOCKS if b.static is None))


def test_every_run_document_has_its_answers_listed_and_every_block_is_run_or_marked() -> None:
    assert sorted(RUN_DOCS) == sorted(EXPECTED), "a document's runnable blocks need EXPECTED"
    assert len(BLOCKS) > 30 and sum(b.static is None for b in BLOCKS) >= 12


REPO_PATH = re.compile(
    r"^(?:\./)?((?:"
    + "|".join(
        sorted(p.name for p in PROJECT_ROOT.iterdir() if p.is_dir() and not p.name.startswith("."))
    )
    + r")/[\w./-]+)$"
)


def _repo_paths(code: str) -> list[str]:
    """Words of the block that name a file or folder inside one of the repository's folders."""
    paths = []
    for line in _logical_lines(code):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # a heredoc's or a -c program's text; bash -n has parsed the whole
        for word in words:
            match = REPO_PATH.match(word.split("=", 1)[-1])
            if match and "<" not in word and "$" not in word:
                paths.append(match.group(1))
    return paths


def _logical_lines(code: str) -> list[str]:
    return code.replace("\\\n", " ").splitlines()


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.doc}:{b.line}")
def test_each_block_parses_and_names_files_that_exist(block: Block) -> None:
    # `<resource-group>`-style placeholders are the reader's to fill: a word to bash.
    code = PLACEHOLDER.sub("PLACEHOLDER", block.code)
    checked = subprocess.run(
        ["bash", "-n"], input=code, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    generated = {"infra/servicebus-emulator/.env"}  # the copy the README makes
    missing = [
        p for p in _repo_paths(block.code) if p not in generated and not (PROJECT_ROOT / p).exists()
    ]
    assert not missing, f"{block.doc}:{block.line} names files that do not exist: {missing}"


# --- the run ---------------------------------------------------------------------------------

PRELUDE = r"""
docs_record() { printf '%s\n' "$1" >> "$DOCS_RUN_CALLS"; }
curl() {
  local out code
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  printf '%s\n' "$out"
  docs_record "@@HTTP $code $(printf '%s' "$out" | base64 -w0)"
}
docs_py() {
  "$DOCS_RUN_PYTHON" "$@"
  local rc=$?
  docs_record "@@EXIT $rc"
  return $rc
}
docs_until() {  # URL PATTERN: poll as a reader would, then show the answer
  local i
  for i in $(seq 1 1200); do
    command curl -s "$1" | grep -Eq "$2" && break
    sleep 0.1
  done
  curl "$1"
}
trap 'kill $(jobs -p) 2>/dev/null' EXIT
"""


def script_for(doc: str, base_url: str, scratch: Path, monitor_port: int) -> str:
    parts = [PRELUDE]
    for block in (b for b in BLOCKS if b.doc == doc and b.static is None):
        lines = []
        for line in block.code.replace("\\\n", "\x00").splitlines():
            if line.startswith("make run"):
                continue  # devhost is running: the test started it
            until = UNTIL.match(line.replace("\x00", "\\\n"))
            if until:
                words = shlex.split(until.group(1))
                url = next(w for w in words if w.startswith("http"))
                pattern = f"{until.group(2)}: *{until.group(3)}"
                line = f'docs_until "{url}" {shlex.quote(pattern)}'  # "$JOB" expands
            lines.append(line)
        text = "\n".join(lines).replace("\x00", "\\\n")
        text = text.replace(".venv/bin/python", "docs_py").replace(DOC_PORT, base_url)
        text = text.replace("/tmp/op.py", str(scratch / "op.py")).replace("8765", str(monitor_port))
        parts.append(text + "\ndocs_record '@@BLOCK -'")
    return "\n".join(parts)


# Fields of a documented answer that differ on every run or machine.
VOLATILE = {"created_time", "last_updated_time", "payment_id", "tracking_id"}


def _documented(answer: str) -> tuple[str | None, dict]:
    """The status and the JSON body of a documented answer (an ```http or ```json block)."""
    status = None
    if answer.startswith("HTTP/"):
        status = answer.split()[1]
        answer = re.split(r"\n\s*\n", answer, maxsplit=1)[-1]
    return status, json.loads(answer)


def _differences(documented: dict, actual: dict, where: str = "") -> list[str]:
    found = []
    for key, want in documented.items():
        if key in VOLATILE or key.endswith("_url"):
            continue
        got = actual.get(key) if isinstance(actual, dict) else None
        if isinstance(want, dict):
            found += _differences(want, got if isinstance(got, dict) else {}, f"{where}{key}.")
        elif got != want:
            found.append(f"{where}{key}: documented {want!r}, answered {got!r}")
    return found


def _records(path: Path) -> list[tuple[str, str, str]]:
    found = []
    for line in path.read_text().splitlines() if path.exists() else []:
        kind, code, *rest = line.split(" ", 2)
        body = __import__("base64").b64decode(rest[0]).decode() if rest else ""
        found.append((kind, code, body))
    return found


def _json_of(body: str) -> dict:
    if body.startswith("HTTP/"):
        body = re.split(r"\r?\n\r?\n", body, maxsplit=1)[-1]
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _field(data: dict, dotted: str) -> object:
    value: object = data
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _matches(expected: str, record: tuple[str, str, str]) -> str | None:
    """None when the record is what the docs say, else what differs."""
    kind, code, body = record
    words = expected.split(" ", 2)
    if words[0] == "exit":
        return None if (kind, code) == ("@@EXIT", words[1]) else f"{kind} {code}"
    if kind != "@@HTTP" or code not in words[1].split("|"):
        return f"{kind} {code} {body[:300]}"
    data = _json_of(body)
    for pair in re.findall(r"([\w.]+)=(.+?)(?= [\w.]+=|$)", words[2] if len(words) > 2 else ""):
        got = _field(data, pair[0])
        if str(got) != pair[1]:
            return f"{pair[0]} is {got!r}, the docs say {pair[1]!r}: {body[:300]}"
    return None


@pytest.fixture(scope="module")
def fresh_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite of its own, empty as a newcomer's: the session's holds other tests' data."""
    instance = Azurite(tmp_path_factory.mktemp("docs-azurite"), project_root=PROJECT_ROOT)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def apps(
    fresh_storage: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    both_apps: Callable[..., AbstractContextManager[Any]],
) -> Iterator[Any]:
    """Both apps, as `make run` starts them, with the example's settings."""
    example = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text())
    env = {k: v for k, v in example["Values"].items() if isinstance(v, str)}
    env["AzureWebJobsStorage"] = fresh_storage.connection_string
    state = tmp_path_factory.mktemp("docs-run")
    with both_apps(PROJECT_ROOT, state_dir=state, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def host(apps: Any) -> DevHostProcess:
    """The main app, on whose URL the docs' commands run."""
    return apps.main


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the sequences run: the repository as links, with the `local.settings.json` that
    `make run` gives a newcomer (a copy of the example), never the developer's own."""
    example = (PROJECT_ROOT / "local.settings.json.example").read_text(encoding="utf-8")
    return linked_app(tmp_path_factory.mktemp("checkout"), settings=example)


@pytest.mark.parametrize("doc", RUN_DOCS)
def test_the_docs_sequence_runs_with_its_documented_answers(
    doc: str, host: DevHostProcess, checkout: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    env = {**os.environ, **host.env}
    env.update(
        DOCS_RUN_CALLS=str(calls),
        DOCS_RUN_PYTHON=sys.executable,
        PYTHONPATH=str(PROJECT_ROOT),
    )
    script = script_for(doc, host.url("").rstrip("/"), tmp_path, free_port())
    ran = subprocess.run(
        ["bash", "-c", script],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = ran.stdout + ran.stderr
    every = _records(calls)
    records = [r for r in every if r[0] != "@@BLOCK"]
    # A documented answer is its block's last HTTP answer: status and the fields it shows.
    per_block: list[list[tuple[str, str, str]]] = [[]]
    for record in every:
        per_block[-1].append(record)
        if record[0] == "@@BLOCK":
            per_block.append([])
    run_blocks = [b for b in BLOCKS if b.doc == doc and b.static is None]
    for block, block_records in zip(run_blocks, per_block, strict=False):
        if not block.answer:
            continue
        status, shown = _documented(block.answer)
        last = [r for r in block_records if r[0] == "@@HTTP"][-1]
        assert status in (None, last[1]), f"{doc}:{block.line} documents {status}, got {last}"
        differences = _differences(shown, _json_of(last[2]))
        assert not differences, f"{doc}:{block.line}: " + "; ".join(differences)
    expected = EXPECTED[doc]
    problems = [
        f"#{i + 1} {want}: {why}"
        for i, (want, got) in enumerate(zip(expected, records, strict=False))
        if (why := _matches(want, got))
    ]
    assert len(records) == len(expected), f"{len(records)} calls: {records}\n{output[-4000:]}"
    assert not problems, "\n".join(problems) + "\n" + output[-4000:]
    for line in OUTPUT.get(doc, []):
        assert line in output, f"{line!r} not in the output:\n{output[-4000:]}"
    assert "Traceback" not in output, output[-4000:]


def test_the_readme_function_list_is_what_devhost_prints(apps: Any) -> None:
    """The README's listing: the main app's lines, then the express app's, marked `[express]`
    as scripts/run_local.py marks them."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    listing = text.split("Each prints its functions and their URLs:\n\n```\n", 1)[1]
    lines = [line.strip() for line in listing.split("```", 1)[0].splitlines()]
    origin = re.compile(r"http://(?:localhost|127\.0\.0\.1):\d+")  # the port differs
    for host, marker in ((apps.main, None), (apps.express, "[express]")):
        mine = [line for line in lines if line.startswith("[express]") == bool(marker)]
        shown = [line.removeprefix(marker or "").strip() for line in mine]
        shown = [line for line in shown if line not in ("", "...")]
        printed = {origin.sub("ORIGIN", line.strip()) for line in host.logs().splitlines()}
        assert len(shown) > (15 if marker is None else 1)
        missing = [line for line in shown if origin.sub("ORIGIN", line) not in printed]
        assert not missing, f"the README lists what devhost does not print: {missing}"
