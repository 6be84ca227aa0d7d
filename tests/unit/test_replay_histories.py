"""Recorded histories replay against the current code; a change that breaks them fails here.

The check (devhost/durable/replay_check.py) runs in a child interpreter, as the other tests that
import function_app do: `get_functions()` may be called once per app object, and the variants
below are whole apps of their own. The variants are copies of the real order workflow changed
by AST surgery: a reorder and an input change must fail, an extract-method refactor must pass.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devhost.durable import decisions
from devhost.durable.replay_check import BREAKS, RecordedHistory, coverage, summarize
from devhost.durable.replay_inputs import context_json, cut_episodes, episode_history
from devhost.durable.store import Instance

ROOT = Path(__file__).resolve().parent.parent.parent
HISTORIES = ROOT / "tests" / "histories"
ORDER_HISTORIES = HISTORIES / "process_order"
FILES = sorted(HISTORIES.rglob("*/*.json"))
WORKFLOW_SOURCE = ROOT / "orchestrators" / "order_workflow.py"
WORKFLOW_IMPORT = "from orchestrators.order_workflow import bp as order_workflow"
# The two recorded paths that end before stock is reserved.
BEFORE_RESERVING = {"record_failed", "already_processed"}


def replay_check(app_dir: Path, *paths: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the check on `app_dir` in a child interpreter; its JSON report."""
    command = [sys.executable, "-m", "devhost.durable.replay_check", "--json", "--app"]
    done = subprocess.run(
        [*command, str(app_dir), *(str(p) for p in paths or (HISTORIES,))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise AssertionError(f"replay check crashed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    failed = any(r["problem"] for r in report["results"])
    assert done.returncode == int(failed), "exit code disagrees with the report"
    return report


def test_every_history_replays_with_the_strict_durable_codec() -> None:
    """azure-functions' AZURE_FUNCTIONS_DURABLE_STRICT_TYPING=1 refuses custom-object envelopes
    without an expected type: the histories hold plain JSON values only, and replay so."""
    report = replay_check(ROOT, env={"AZURE_FUNCTIONS_DURABLE_STRICT_TYPING": "1"})
    assert len(report["results"]) == len(FILES)
    assert [r["problem"] for r in report["results"] if r["problem"]] == []


def by_case(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["case"]: r for r in report["results"]}


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return replay_check(ROOT)


# -- the current code against every recorded history -------------------------------------------


def test_the_order_workflow_has_its_recorded_paths() -> None:
    """The check cannot pass vacuously: the recorded paths are there and cover the workflow."""
    cases = {p.stem for p in ORDER_HISTORIES.glob("*.json")}
    assert {
        "happy",
        "payment_declined",
        "shipping_failed",
        "transient_retries",
        "approval_approved",
        "approval_rejected",
        "approval_timed_out",
        "cancelled_after_payment",
        "awaiting_approval",
    } <= cases
    kinds = {
        ev["EventType"]
        for path in ORDER_HISTORIES.glob("*.json")
        for ev in RecordedHistory.from_file(path).history
    }
    assert {4, 5, 6, 10, 11, 15} <= kinds  # activities, failures, timers, raised events


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HISTORIES)) for p in FILES])
def test_recorded_history_replays_on_the_current_code(path: Path, current: dict[str, Any]) -> None:
    [result] = [r for r in current["results"] if Path(r["path"]) == path]
    assert result["episodes"] > 0
    assert result["problem"] is None, result["problem"]


def test_every_registered_orchestrator_has_recorded_histories(current: dict[str, Any]) -> None:
    """A new orchestrator gets a recorder suite (docs/safe-deploys.md), or an entry with the
    reason in tests/histories/unrecorded.json; an entry that is no longer true fails too."""
    assert current["coverage"] == [], (
        "record the missing orchestrators (python -m scripts.record_histories) or list them "
        "in tests/histories/unrecorded.json with the reason"
    )
    assert "process_order" not in current["unrecorded"]


def test_exemptions_cannot_rot() -> None:
    exempt = {"made_later": "no suite yet", "already_done": "stale", "removed": "stale"}
    assert coverage(["made_later", "already_done", "new"], {"already_done"}, exempt) == [
        "orchestrator 'new' has no recorded histories",
        "'already_done' is recorded now: remove it from unrecorded.json",
        "'removed' is not registered: remove it from unrecorded.json",
    ]


def test_each_file_is_consistent_with_its_own_history() -> None:
    for path in FILES:
        recorded = RecordedHistory.from_file(path)
        assert recorded.orchestrator == path.parent.name, path
        assert recorded.case == path.stem, path
        assert recorded.scheduled == summarize(recorded.history), path


def test_episode_context_is_what_the_engine_sends() -> None:
    """The rebuilt context JSON is byte for byte decisions.context_json's."""
    recorded = RecordedHistory.from_file(ORDER_HISTORIES / "approval_approved.json")
    instance = Instance(
        instance_id=recorded.instance_id,
        name=recorded.orchestrator,
        version=None,
        execution_id="x",
        runtime_status="Running",
        input=json.dumps(recorded.input),
        output=None,
        custom_status=None,
        created_time="",
        last_updated_time="",
        parent_instance_id="parent-1",
        parent_execution_id="e",
        parent_task_id=3,
    )
    for episode in cut_episodes(recorded.history):
        history = episode_history(recorded.history, episode)
        engine = decisions.context_json(instance, json.dumps(history))
        ours = context_json(history, recorded.input, recorded.instance_id, "parent-1")
        assert json.loads(ours) == json.loads(engine)
        assert ours.encode() == engine.encode()


def test_a_bad_file_fails_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "process_order" / "broken.json"
    bad.parent.mkdir()
    bad.write_text('{"format": 1, "case": "broken"}')
    [result] = replay_check(ROOT, bad)["results"]
    assert str(bad) in result["problem"]
    assert "missing" in result["problem"]


# -- variants of the order workflow --------------------------------------------------------------


def _forward(tree: ast.Module) -> ast.FunctionDef:
    return _method(tree, "forward")


def _method(tree: ast.Module, name: str) -> ast.FunctionDef:
    workflow = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_Workflow")
    return next(n for n in workflow.body if isinstance(n, ast.FunctionDef) and n.name == name)


def _statement(body: list[ast.stmt], text: str, kind: type[ast.stmt]) -> int:
    """The index of the one statement of `kind` whose source mentions `text`."""
    found = [i for i, s in enumerate(body) if isinstance(s, kind) and text in ast.unparse(s)]
    assert len(found) == 1, f"the order workflow changed shape: no single {kind.__name__} {text}"
    return found[0]


def _swap_reserve_and_payment(tree: ast.Module) -> None:
    """Take the payment before reserving the stock: a reorder of two scheduled activities."""
    body = _forward(tree).body
    reserve = _statement(body, "RESERVE_STOCK", ast.Expr)
    payment = _statement(body, "TAKE_PAYMENT", ast.Try)
    body[reserve], body[payment] = body[payment], body[reserve]


def _extract_reserve_method(tree: ast.Module) -> None:
    """Move the reservation into its own generator method: same actions, new structure."""
    body = _forward(tree).body
    reserve = _statement(body, "RESERVE_STOCK", ast.Expr)
    moved = body[reserve - 1 : reserve + 2]
    assert "reserve =" in ast.unparse(moved[0]) and "RELEASE_STOCK" in ast.unparse(moved[2])
    helper = ast.parse("def reserve_stock(self, order, order_id):\n    pass").body[0]
    assert isinstance(helper, ast.FunctionDef)
    helper.body = moved
    body[reserve - 1 : reserve + 2] = ast.parse(
        "yield from self.reserve_stock(order, order_id)"
    ).body
    workflow = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_Workflow")
    workflow.body.append(helper)


class _WithSchemaField(ast.NodeTransformer):
    """`payload.dump()` becomes `{**payload.dump(), "schema": 2}`."""

    replaced = 0

    def visit_Call(self, node: ast.Call) -> ast.expr:
        if ast.unparse(node) != "payload.dump()":
            return self.generic_visit(node)  # type: ignore[return-value]
        self.replaced += 1
        return ast.parse('{**payload.dump(), "schema": 2}', mode="eval").body


def _add_payload_field(tree: ast.Module) -> None:
    """Every activity input gains a field: the same activities with different inputs."""
    change = _WithSchemaField()
    for name in ("step", "call"):  # every activity the workflow calls goes through these two
        change.visit(_method(tree, name))
    assert change.replaced == 2, "the order workflow no longer dumps its inputs in step and call"


def _require_new_input(tree: ast.Module) -> None:
    """The new code needs an input field that instances started earlier do not have."""
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "process_order"
    )
    check = "if 'priority' not in context.get_input():\n    raise ValueError('no priority given')"
    function.body[1:1] = ast.parse(check).body


def _as_version_2(tree: ast.Module) -> None:
    """The reorder shipped the safe way: a new orchestrator name next to the old one."""
    _swap_reserve_and_payment(tree)
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "ORCHESTRATOR":
            node.value = ast.Constant("process_order_v2")
        if isinstance(node, ast.FunctionDef) and node.name == "process_order":
            node.name = "process_order_v2"  # function names are unique within an app


def variant_app(
    tmp_path: Path, change: Callable[[ast.Module], None], *, keep_original: bool = False
) -> Path:
    """The real app with the order workflow replaced by (or, kept, joined by) a changed copy."""
    tree = ast.parse(WORKFLOW_SOURCE.read_text(encoding="utf-8"))
    change(tree)
    (tmp_path / "order_workflow_variant.py").write_text(ast.unparse(tree), encoding="utf-8")
    app = (ROOT / "function_app.py").read_text(encoding="utf-8")
    assert WORKFLOW_IMPORT in app, "function_app.py no longer imports the order workflow so"
    if keep_original:
        app += "\nfrom order_workflow_variant import bp as order_workflow_v2\n"
        app += "app.register_functions(order_workflow_v2)\n"
    else:
        app = app.replace(
            WORKFLOW_IMPORT, "from order_workflow_variant import bp as order_workflow"
        )
    (tmp_path / "function_app.py").write_text(app, encoding="utf-8")
    return tmp_path


def test_a_reordered_orchestrator_fails_the_check(tmp_path: Path) -> None:
    report = replay_check(variant_app(tmp_path, _swap_reserve_and_payment), ORDER_HISTORIES)
    results = by_case(report)
    failed = {case for case, r in results.items() if r["problem"]}
    assert failed == set(results) - BEFORE_RESERVING
    assert all(results[case]["breaking"] for case in failed)
    happy = results["happy"]["problem"]
    assert happy == (
        f"{ORDER_HISTORIES / 'happy.json'}, episode 3 of 11 (delivered: TaskCompleted for #1): "
        "the recorded run scheduled #2 TaskScheduled 'reserve_stock', "
        f"the current code schedules #2 TaskScheduled 'take_payment'; {BREAKS}"
    )


def test_an_equivalent_refactor_passes(tmp_path: Path) -> None:
    report = replay_check(variant_app(tmp_path, _extract_reserve_method), ORDER_HISTORIES)
    assert len(report["results"]) == len(list(ORDER_HISTORIES.glob("*.json")))
    assert [r["problem"] for r in report["results"] if r["problem"]] == []


def test_a_changed_activity_input_fails_as_a_behaviour_change(tmp_path: Path) -> None:
    report = replay_check(variant_app(tmp_path, _add_payload_field), ORDER_HISTORIES)
    for result in report["results"]:
        assert result["problem"] is not None
        assert not result["breaking"]
        assert "episode 1 of" in result["problem"]
        assert "#0 TaskScheduled 'record_order': Input was" in result["problem"]
        assert "re-record" in result["problem"]


def test_an_orchestrator_that_now_raises_fails_the_check(tmp_path: Path) -> None:
    report = replay_check(variant_app(tmp_path, _require_new_input), ORDER_HISTORIES)
    for result in report["results"]:
        assert result["breaking"]
        assert "the orchestrator now fails: no priority given" in result["problem"]


def test_renaming_the_orchestrator_without_keeping_the_old_one_fails(tmp_path: Path) -> None:
    report = replay_check(variant_app(tmp_path, _as_version_2), ORDER_HISTORIES)
    for result in report["results"]:
        assert result["breaking"]
        assert "orchestrator 'process_order' is not registered any more" in result["problem"]


def test_a_new_version_next_to_the_old_one_passes(tmp_path: Path) -> None:
    app = variant_app(tmp_path, _as_version_2, keep_original=True)
    report = replay_check(app, ORDER_HISTORIES)
    assert [r["problem"] for r in report["results"] if r["problem"]] == []
    assert "process_order_v2" in report["unrecorded"]  # it gets its own recordings next
