"""Azure's remote build installs requirements.txt alone: the deployed app must run from it."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[3]
# Folders of development code .funcignore keeps out of the package.
APP_TOP_LEVEL = frozenset(
    {"function_app.py", "app_config.py", "host.json", "requirements.txt", "README.md"}
    | {"triggers", "orchestrators", "activities", "adapters", "domain", "api", "web"}
)
DEV_FOLDERS = frozenset({"tests", "devhost", "bench", "scripts", "infra", ".venv"})

# --- .funcignore, applied the way Core Tools applies it ------------------------------------

# GetLocalFiles skips these whatever .funcignore says (names compared case-insensitively).
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".vscode"})
ALWAYS_SKIPPED_FILES = frozenset(
    {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
)
_NEVER = "(?!)"


def _pattern_regex(pattern: str) -> str:
    """Core Tools' regex for one pattern: regex metacharacters are literal (so `[cod]` is not a
    class), `**` spans folders, `*` is one or more characters within one folder."""
    literal = re.sub(r"[-\[\]/{}()+?.\\^$|]", lambda m: "\\" + m.group(), pattern)
    return literal.replace("**", "(.+)").replace("*", "([^/]+)")


def _alternatives(patterns: list[str]) -> re.Pattern[str]:
    # Anchored at the start of the path and closed by a word boundary, not at its end: a pattern
    # matches a path PREFIX (`tests/` also covers `tests/unit/x.py`). ASCII \b as ECMAScript's.
    body = "|".join(f"({_pattern_regex(p)})" for p in patterns) or _NEVER
    return re.compile(rf"^({body})\b", re.ASCII)


@dataclass(frozen=True)
class FuncIgnore:
    """A parsed .funcignore: `denied` holds the plain patterns, `kept` the `!` ones."""

    denied: re.Pattern[str]
    kept: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> FuncIgnore:
        denied: list[str] = []
        kept: list[str] = []
        for raw in text.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            target = kept if line.startswith("!") else denied
            target.append(line.removeprefix("!").removeprefix("/"))
        return cls(_alternatives(denied), _alternatives(kept))

    def excludes(self, path: str) -> bool:
        """Whether Core Tools leaves `path` (relative, with forward slashes) out of the package."""
        return bool(self.denied.match(path)) and not self.kept.match(path)


def deployed_files(root: Path) -> list[str]:
    """The files `func azure functionapp publish` would upload from `root`, relative, sorted."""
    funcignore = root / ".funcignore"
    ignore = FuncIgnore.parse(funcignore.read_text() if funcignore.is_file() else "")
    found: list[str] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d.lower() not in ALWAYS_SKIPPED_DIRS]
        prefix = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in filenames:
            path = prefix + name
            if name.lower() not in ALWAYS_SKIPPED_FILES and not ignore.excludes(path):
                found.append(path)
    return sorted(found)


@cache
def repo_deployment() -> tuple[str, ...]:
    return tuple(deployed_files(REPO))


def first_party(files: Iterable[str]) -> frozenset[str]:
    """Top-level module names the deployment itself provides (`function_app`, `adapters`, ...)."""
    return frozenset(f.split("/")[0].removesuffix(".py") for f in files if f.endswith(".py"))


# --- What requirements.txt installs ---------------------------------------------------------


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a pip requirements file, following `-r` includes; other options
    (index URLs and the like) choose where packages come from, not which, and are skipped."""
    found: list[Requirement] = []
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        include = re.match(r"(-r|--requirement)[\s=]+(\S+)$", line)
        if include:
            found += read_requirements(path.parent / include.group(2))
        elif not line.startswith("-"):
            found.append(Requirement(line))
    return found


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    """Whether pip would install `requirement` here (its marker, for the extras asked for)."""
    marker = requirement.marker
    return marker is None or any(marker.evaluate({"extra": e}) for e in ("", *extras))


def installed_by(requirements: list[Requirement]) -> dict[str, str]:
    """Every distribution these requirements install, transitively, each mapped to what pulls it
    in ("requirements.txt" for a listed one). Read from the installed distributions' metadata:
    the dev environment holds the pinned versions of the same packages."""
    pulled_in_by: dict[str, str] = {}
    expanded: set[tuple[str, str]] = set()
    queue = [(r, "requirements.txt") for r in requirements if _applies(r, ())]
    while queue:
        requirement, parent = queue.pop(0)
        name = canonicalize_name(requirement.name)
        pulled_in_by.setdefault(name, parent)
        extras = sorted(requirement.extras)
        if all((name, e) in expanded for e in ["", *extras]):
            continue
        expanded.update((name, e) for e in ["", *extras])
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here: nothing to follow (the slow test installs for real)
        for child in map(Requirement, requires):
            if _applies(child, extras):
                queue.append((child, name))
    return pulled_in_by


# --- Which distribution a module comes from -------------------------------------------------


@cache
def file_owners() -> dict[str, str]:
    """Every installed file (absolute, normalised) -> the distribution that installed it.
    Namespace packages such as `azure` and `opentelemetry` are shared by many distributions, so
    a module's owner is found from its own file, never from its top-level name."""
    owners: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or ():
            owners[os.path.normpath(str(dist.locate_file(file)))] = name
    return owners


def _search_path() -> list[str]:
    # Installed packages only: the repository root (pytest's pythonpath, the cwd) is first-party.
    return [p for p in sys.path if p and Path(p).resolve() != REPO]


def _finders(locations: Iterable[str]) -> Iterator[Any]:
    """The path-entry finders (sys.path_hooks) for some folders, as the import system makes them."""
    for entry in locations:
        finder = sys.path_importer_cache.get(entry)
        for hook in sys.path_hooks if finder is None else ():
            try:
                finder = hook(entry)
                break
            except ImportError:
                continue
        if finder is not None:
            yield finder


def _find_in(module: str, locations: list[str]) -> ModuleSpec | None:
    """One step of the path-based search: the first module or package found wins; namespace
    portions found in several folders are merged into one namespace package."""
    portions: list[str] = []
    for finder in _finders(locations):
        spec = finder.find_spec(module)
        if spec is not None and spec.loader is not None:
            return spec
        if spec is not None:
            portions += spec.submodule_search_locations or []
    if not portions:
        return None
    namespace = ModuleSpec(module, None, is_package=True)
    namespace.submodule_search_locations = portions
    return namespace


def find_spec(module: str) -> ModuleSpec | None:
    """The spec of a dotted module, found part by part WITHOUT importing its parents
    (importlib.util.find_spec runs every parent package's __init__)."""
    parts = module.split(".")
    spec = _find_in(parts[0], _search_path())
    for depth in range(2, len(parts) + 1):
        if spec is None or spec.submodule_search_locations is None:
            return None  # missing, or a plain module: `x.y.z` then names an attribute
        spec = _find_in(".".join(parts[:depth]), list(spec.submodule_search_locations))
    return spec


def owners_of(spec: ModuleSpec) -> frozenset[str]:
    """The distributions that installed a module: its file's owner; for a namespace package,
    every distribution with files in one of its folders."""
    owners = file_owners()
    if spec.has_location and spec.origin:
        owner = owners.get(os.path.normpath(spec.origin))
        return frozenset({owner} if owner else ())
    folders = [os.path.normpath(f) + os.sep for f in spec.submodule_search_locations or ()]
    return frozenset(o for path, o in owners.items() if path.startswith(tuple(folders)))


# --- The imports of the deployed code --------------------------------------------------------


@dataclass(frozen=True)
class ImportSite:
    """One imported module: `candidates` are its possible full names, most specific first
    (`from x.y import z` is the submodule `x.y.z` when there is one, else names in `x.y`)."""

    file: str
    line: int
    candidates: tuple[str, ...]

    @property
    def top_level(self) -> str:
        return self.candidates[-1].split(".")[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: `if TYPE_CHECKING:` bodies are skipped (never true at run
    time), their `else:` branches are not. Imports inside functions count: they run too."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for branch in child.orelse:
                yield branch
                yield from _runtime_nodes(branch)
            continue
        yield child
        yield from _runtime_nodes(child)


def imports_of(file: str, source: str) -> Iterator[ImportSite]:
    """The absolute imports of one source file (relative ones are first-party by definition)."""
    for node in _runtime_nodes(ast.parse(source, filename=file)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportSite(file, node.lineno, (alias.name,))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = () if alias.name == "*" else (f"{node.module}.{alias.name}",)
                yield ImportSite(file, node.lineno, (*submodule, node.module))


# --- The check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    site: ImportSite
    module: str
    owner: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.site.file}:{self.site.line}"
        return f"{where}: imports {self.module} (distribution {self.owner}): {self.reason}"


def _resolve(site: ImportSite) -> tuple[str, frozenset[str]] | None:
    for module in site.candidates:
        spec = find_spec(module)
        if spec is not None:
            return module, owners_of(spec)
    return None


def _problem(site: ImportSite, listed: set[str], pulled_in_by: dict[str, str]) -> Problem | None:
    """What is wrong with one third-party import, if anything."""
    resolved = _resolve(site)
    if resolved is None:
        return Problem(site, site.candidates[0], "none", "not installed even in dev")
    module, owners = resolved
    if owners & listed:
        return None
    transitive = sorted(owners & pulled_in_by.keys())
    if transitive:
        owner = transitive[0]
        reason = (
            f"requirements.txt installs it only as a dependency of {pulled_in_by[owner]}; "
            f"it is imported directly, so list {owner}"
        )
        return Problem(site, module, owner, reason)
    owner = ", ".join(sorted(owners)) or "no installed distribution"
    reason = "requirements.txt does not install it (dev-only?), so neither does the remote build"
    return Problem(site, module, owner, reason)


def check_imports(
    sources: Iterable[tuple[str, str]],
    requirements: list[Requirement],
    local: frozenset[str],
) -> list[Problem]:
    """Each third-party module the sources import must come from a distribution requirements.txt
    LISTS: one it only installs as another package's dependency can be dropped by that package
    in any release, and Azure's remote build installs nothing else."""
    listed = {canonicalize_name(r.name) for r in requirements}
    pulled_in_by = installed_by(requirements)
    problems: dict[tuple[str, int, str], Problem] = {}  # `from x import a, b` may be x twice
    for file, source in sources:
        for site in imports_of(file, source):
            if site.top_level in sys.stdlib_module_names or site.top_level in local:
                continue
            problem = _problem(site, listed, pulled_in_by)
            if problem is not None:
                problems.setdefault((file, site.line, problem.module), problem)
    return list(problems.values())


def deployed_sources(root: Path, files: Iterable[str]) -> list[tuple[str, str]]:
    return [(f, (root / f).read_text()) for f in files if f.endswith(".py")]


def _report(problems: list[Problem]) -> str:
    return "\n".join(
        ["requirements.txt must list every distribution the deployed code imports:"]
        + [f"  {p}" for p in problems]
    )


# --- Fast tests -----------------------------------------------------------------------------


def test_funcignore_patterns_match_as_core_tools_matches_them() -> None:
    """Rule: `func azure functionapp publish` uploads every file except those its .funcignore
    parser denies: patterns are anchored at the project root and match path prefixes up to a
    word boundary; `*` is one or more characters within a folder, `**` spans folders; `!`
    keeps a file back; `.git/`, `.vscode/`, `.funcignore`, `.gitignore` and
    `local.settings.json` are never uploaded. The quirks below (root-only `*.pyc`, a
    `package*.json` that misses `package.json`, `.venv/` that misses `.venv/.x`) are Core
    Tools' own, unlike git's, and are kept so the copy matches what is really uploaded.
    The files come from FileSystemHelpers.GetLocalFiles, which Core Tools zips for Python.
    Source: Azure/azure-functions-core-tools, src/Cli/func/Common/GitIgnoreParser.cs"""
    ignore = FuncIgnore.parse(
        "# comment\n\n/tests/\nMakefile\n*.pyc\nbench/**/*.json\npackage*.json\n"
        ".venv/\ndocs/\n!docs/keep.md\n"
    )
    excluded = {
        "tests/unit/test_x.py": True,
        "adapters/tests/x.py": False,  # root-anchored, unlike git
        "Makefile": True,
        "Makefile.bak": True,  # a prefix up to a word boundary...
        "MakefileX": False,  # ...and only up to one
        "x.pyc": True,
        "adapters/__pycache__/x.pyc": False,  # `*` stays within one folder
        "bench/out/run/x.json": True,
        "bench/x.json": False,  # `**` is one or more characters
        "package-lock.json": True,
        "package.json": False,  # `*` is one or more characters
        ".venv/lib/site.py": True,
        ".venv/.stamp": False,  # no word boundary between `/` and `.`
        "docs/guide.md": True,
        "docs/keep.md": False,
        "function_app.py": False,
    }
    assert {path: ignore.excludes(path) for path in excluded} == excluded

    deployed = repo_deployment()
    assert "function_app.py" in deployed and "requirements.txt" in deployed
    assert "host.json" in deployed
    dev_code = [f for f in deployed if f.endswith(".py") and f.split("/")[0] in DEV_FOLDERS]
    assert not dev_code, "development code would be deployed"
    # Only the app: no node_modules, venv, caches or tooling (once 49,000 files of them).
    assert {f.split("/")[0] for f in deployed} <= APP_TOP_LEVEL, sorted(deployed)
    assert not [f for f in deployed if "__pycache__" in f]
    # azd's environment folder can hold secrets: never packaged (nor committed: .gitignore).
    repo_ignore = FuncIgnore.parse((REPO / ".funcignore").read_text())
    assert repo_ignore.excludes(".azure/dev/.env")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".azure/dev/.env"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, ".azure/ is not in .gitignore"


def test_deployed_code_imports_only_distributions_requirements_txt_lists() -> None:
    """Rule: Azure's remote build installs requirements.txt and nothing else, so every
    third-party module the deployed code (the repository minus .funcignore) imports must come
    from a distribution it installs; and, because a package may drop any of its own
    dependencies in any release, from one it LISTS by name. A module's distribution is found
    from its file through the installed distributions' RECORDs (namespace packages such as
    azure.* are shared by many). Standard library and first-party modules are exempt; so are
    imports under `if TYPE_CHECKING:`, which never run.
    Learn's words: 'Remote build installs all dependencies listed in requirements.txt'
    (learn.microsoft.com/azure/azure-functions/python-build-options).
    Source: Microsoft Learn, 'Build your Python Azure Functions apps', section 'Remote build'"""
    deployed = repo_deployment()
    sources = deployed_sources(REPO, deployed)
    assert len(sources) > 10, "the deployed tree holds (almost) no Python: is .funcignore right?"
    requirements = read_requirements(REPO / "requirements.txt")
    problems = check_imports(sources, requirements, first_party(deployed))
    if problems:
        pytest.fail(_report(problems), pytrace=False)


def test_import_check_reports_dev_only_and_transitive_only_distributions() -> None:
    """Rule: the import check must fail for a package only requirements-dev.txt installs
    (croniter) and for one requirements.txt installs only as another's dependency (isodate;
    azure-core-tracing-opentelemetry, whose top-level `azure` every azure-* package shares,
    which azure-monitor-opentelemetry brings); and it did fail
    for azure-servicebus before requirements.txt listed it (adapters/messaging.py).
    Learn's words: 'Remote build installs all dependencies listed in requirements.txt'
    (learn.microsoft.com/azure/azure-functions/python-build-options).
    Source: Microsoft Learn, 'Build your Python Azure Functions apps', section 'Remote build'"""
    requirements = read_requirements(REPO / "requirements.txt")
    synthetic = (
        "from typing import TYPE_CHECKING\n"
        "import croniter\n"
        "from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan\n"
        "import isodate\n"
        "if TYPE_CHECKING:\n"
        "    import pytest\n"
    )
    problems = check_imports([("jobs/sample.py", synthetic)], requirements, frozenset())
    found = {(p.site.line, p.module, p.owner) for p in problems}
    assert found == {
        (2, "croniter", "croniter"),
        (3, "azure.core.tracing.ext.opentelemetry_span", "azure-core-tracing-opentelemetry"),
        (4, "isodate", "isodate"),
    }, _report(problems)
    assert "does not install it" in str(problems[0])
    assert "only as a dependency of" in str(problems[2])

    without_servicebus = [
        r for r in requirements if canonicalize_name(r.name) != "azure-servicebus"
    ]
    messaging = deployed_sources(REPO, ["adapters/messaging.py"])
    caught = check_imports(messaging, without_servicebus, first_party(repo_deployment()))
    assert {p.owner for p in caught} == {"azure-servicebus"}, _report(caught)


def test_requirements_txt_leaves_the_python_worker_to_the_platform() -> None:
    """Rule: the Functions host ships and manages its own Python worker; requirements.txt must
    not install azure-functions-worker, directly or as a dependency, or the app's copy can
    shadow the platform's.
    The `func init` Python template (commit 7478f35) says: 'Do not include
    azure-functions-worker in this file. The Python Worker is managed by the Azure Functions
    platform.'
    Source: Azure/azure-functions-core-tools, src/Cli/func/StaticResources/requirements.txt"""
    installed = installed_by(read_requirements(REPO / "requirements.txt"))
    assert "azure-functions-worker" not in installed


# --- Slow test: a real install from requirements.txt alone ----------------------------------

_INDEX_SCRIPT = """
import importlib.util, json, os, sys
import azure.functions as func
import function_app
apps = [v for v in vars(function_app).values() if isinstance(v, func.FunctionRegister)]
print(json.dumps({
    "app_file": os.path.abspath(function_app.__file__),
    "dev_only_visible": [m for m in ("pytest", "croniter") if importlib.util.find_spec(m)],
    "functions": [fn.get_function_name() for fn in apps[0].get_functions()],
}))
"""

# pip's and Python's own variables that could reach outside the new venv (PYTHONPATH, a user
# site, `pip install --user/--target/--prefix`); index and certificate settings stay.
_LEAKY = re.compile(r"^(PYTHON.*|VIRTUAL_ENV|__PYVENV_LAUNCHER__|PIP_(USER|TARGET|PREFIX))$")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _LEAKY.match(k)}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run in the clean environment; on failure, show the command and its stderr's tail."""
    result = subprocess.run(
        command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        shown = " ".join("<script>" if "\n" in part else part for part in command)
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-40:])
        pytest.fail(f"{shown} exited {result.returncode}:\n{tail}", pytrace=False)
    return result


def copy_deployment(root: Path, files: Iterable[str], target: Path) -> None:
    """Put the files an upload would carry under `target`, same paths, same content."""
    folders: set[Path] = set()
    for file in files:
        source, copy = root / file, target / file
        if not source.is_file():
            continue  # a dangling symlink: nothing to upload
        if copy.parent not in folders:
            copy.parent.mkdir(parents=True, exist_ok=True)
            folders.add(copy.parent)
        try:
            # A hard link is the same content at a quarter of a copy's time (tens of thousands of
            # files while .funcignore lets node_modules' scoped packages through); nothing in the
            # index step writes to an app file.
            os.link(source, copy)
        except OSError:  # another filesystem, or no hard links there
            shutil.copyfile(source, copy)


# The README's Core Tools install steps (tests/devhost/test_core_tools_steps.py keeps them there).
README_INSTALL_STEPS = (
    "python3.11 -m venv .venv",
    "source .venv/bin/activate",
    "pip install -r requirements.txt",
)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_app_indexes_every_function_from_requirements_txt_alone(
    tmp_path: Path, app_functions: list[dict[str, Any]]
) -> None:
    """Rule: in Azure the app runs with what the remote build installed from requirements.txt
    and nothing more; a module missing there fails `import function_app` and the host indexes
    no function at all. So: a fresh venv (no system or user site, no PYTHONPATH) gets
    `pip install -r requirements.txt` only, the files .funcignore lets through are copied
    beside it, and indexing there must list exactly the functions it lists in the dev venv.
    These are also the README's Core Tools steps `python3.11 -m venv .venv` and
    `pip install -r requirements.txt` (tests/devhost/test_core_tools_steps.py points here).
    Learn's words: 'Remote build installs all dependencies listed in requirements.txt'
    (learn.microsoft.com/azure/azure-functions/python-build-options).
    Source: Microsoft Learn, 'Build your Python Azure Functions apps', section 'Remote build'"""
    app = tmp_path / "wwwroot"
    copy_deployment(REPO, repo_deployment(), app)
    # The README's own lines, in one shell as a user types them (this Python if no python3.11).
    steps = " && ".join(README_INSTALL_STEPS)
    if shutil.which("python3.11") is None:
        steps = steps.replace("python3.11", shlex.quote(sys.executable), 1)
    _run(["bash", "-c", steps], cwd=app, timeout=600)
    python = str(app / ".venv" / "bin" / "python")

    # Run from the copy (sys.path[0] is the cwd, as the worker puts the app root on it).
    indexed = json.loads(
        _run([python, "-s", "-c", _INDEX_SCRIPT], cwd=app, timeout=120).stdout.splitlines()[-1]
    )
    assert Path(indexed["app_file"]).parent == app, "function_app came from outside the copy"
    assert indexed["dev_only_visible"] == [], "the clean venv sees dev packages: not clean"
    expected = {fn["name"] for fn in app_functions}
    assert expected, "the dev environment indexed no function"
    assert set(indexed["functions"]) == expected
    assert len(indexed["functions"]) == len(app_functions)
