"""Finds the Python code blocks of Microsoft Learn markdown and assembles v2-model apps from them.

Learn pages (MicrosoftDocs/azure-docs) put each language in a tab (`# [Python](#tab/python)`,
closed by a `---` line), tabs inside optional zones (`::: zone pivot="durable-functions"` …
`::: zone-end`) and everything under `##`/`###` headings. A code block is addressed by its
nearest heading, its zone and its tab. Nothing here changes a snippet's text: assembling an app
only concatenates snippets and inserts lines, and every inserted line is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TAB = re.compile(r"^#{1,6}\s+(?:<a name=\"[^\"]*\"></a>\s*)?\[([^\]]+)\]\(#tab/([^)]+)\)\s*$")
ANCHOR = re.compile(r"<a name=\"[^\"]*\"></a>")
ZONE = re.compile(r"^:::\s*zone\s+pivot=\"([^\"]*)\"\s*$")
ZONE_END = re.compile(r"^:::\s*zone-end\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
TAB_GROUP_END = re.compile(r"^-{3,}\s*$")
# A v2-model function is registered with a decorator on an app or blueprint object.
V2_DECORATOR = re.compile(
    r"^@\w+\.(route|orchestration_trigger|activity_trigger|entity_trigger|durable_client_input"
    r"|queue_trigger|timer_trigger|blob_trigger|function_name|schedule)\b",
    re.MULTILINE,
)
# The v1 model: a `main` entry point next to function.json, or the SDK's v1 factories.
V1_MARKERS = re.compile(
    r"^(async\s+)?def\s+main\s*\(|^main\s*=\s*df\.(Orchestrator|Entity)\.create\(", re.MULTILINE
)
PYTHON_TAB_IDS = {"python", "python-v2", "v2-model"}


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block and where it sits on the page."""

    section: str  # text of the nearest heading above it (tab markers are not headings)
    zone: frozenset[str] | None  # the pivots of the enclosing zone, None outside zones
    tab: str | None  # tab id (`python` in `#tab/python`), None outside tabs
    tab_label: str | None
    lang: str
    code: str
    line: int  # 1-based line of the opening fence

    @property
    def is_python_tab(self) -> bool:
        if self.tab is None or self.tab_label is None:
            return False
        return self.tab in PYTHON_TAB_IDS or self.tab_label.lower().startswith("python")


@dataclass(frozen=True)
class TabText:
    """The prose of one tab (what a page says where it shows no code)."""

    section: str
    zone: frozenset[str] | None
    tab: str
    tab_label: str
    text: str


@dataclass
class Page:
    """A parsed page: its code blocks and the prose of each tab."""

    blocks: list[CodeBlock] = field(default_factory=list)
    tab_texts: list[TabText] = field(default_factory=list)


def _heading_text(raw: str) -> str:
    return ANCHOR.sub("", raw).strip()


def parse_page(text: str) -> Page:
    """Every code block outside HTML comments, with its heading, zone and tab."""
    page = Page()
    section = ""
    zone: frozenset[str] | None = None
    tab: tuple[str, str] | None = None  # (id, label)
    tab_lines: list[str] = []
    in_comment = False
    fence: tuple[str, str, int, list[str]] | None = None  # (marker, lang, line, body)

    def close_tab() -> None:
        nonlocal tab, tab_lines
        if tab is not None:
            prose = "\n".join(tab_lines).strip()
            page.tab_texts.append(TabText(section, zone, tab[0], tab[1], prose))
        tab, tab_lines = None, []

    lines = text.splitlines()
    first = 0
    if lines and lines[0].strip() == "---":  # YAML front matter, whose `# ...` are comments
        first = next((i + 1 for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
    for number, line in enumerate(lines[first:], start=first + 1):
        if fence is not None:
            marker, lang, start, body = fence
            if line.strip().startswith(marker) and not line.strip()[len(marker) :].strip():
                tab_id, label = tab if tab else (None, None)
                page.blocks.append(
                    CodeBlock(section, zone, tab_id, label, lang, "\n".join(body) + "\n", start)
                )
                fence = None
            else:
                body.append(line)
            continue
        if in_comment:
            in_comment = "-->" not in line
            continue
        if line.lstrip().startswith("<!--"):
            in_comment = "-->" not in line
            continue
        opened = FENCE.match(line)
        if opened:
            fence = (opened.group(2), opened.group(3).lower(), number, [])
            continue
        tab_match = TAB.match(line)
        if tab_match:
            close_tab()
            tab = (tab_match.group(2), tab_match.group(1))
            continue
        if TAB_GROUP_END.match(line):
            close_tab()
            continue
        zone_match = ZONE.match(line)
        if zone_match:
            close_tab()
            zone = frozenset(p.strip() for p in zone_match.group(1).split(",") if p.strip())
            continue
        if ZONE_END.match(line):
            close_tab()
            zone = None
            continue
        heading = HEADING.match(line)
        if heading:
            # Older pages put a heading inside a tab; it names the section but keeps the tab.
            section = _heading_text(heading.group(2))
            continue
        if tab is not None:
            tab_lines.append(line)
    close_tab()
    return page


def model_of(code: str) -> str:
    """'v2' for decorator-registered functions, 'v1' for function.json-style code, else '?'."""
    if V2_DECORATOR.search(code):
        return "v2"
    if V1_MARKERS.search(code):
        return "v1"
    return "?"


def python_blocks(page: Page, section: str, zone: str | None) -> list[CodeBlock]:
    """The Python-tab Python code blocks of one section (in one zone, when given)."""
    return [
        block
        for block in page.blocks
        if block.section == section
        and block.is_python_tab
        and block.lang == "python"
        and (zone is None or block.zone is None or zone in block.zone)
    ]


def python_tab_text(page: Page, section: str, zone: str | None) -> str | None:
    """What the section's Python tab says, for sections that show no Python code."""
    for tab in page.tab_texts:
        if (
            tab.section == section
            and (tab.tab in PYTHON_TAB_IDS or tab.tab_label.lower().startswith("python"))
            and (zone is None or tab.zone is None or zone in tab.zone)
        ):
            return tab.text
    return None


@dataclass(frozen=True)
class Addition:
    """A line inserted around the snippets, and the documentation that prescribes it."""

    line: int  # 1-based line in the assembled function_app.py
    text: str
    prescribed_by: str | None  # None: not prescribed by any page (the run is MODIFIED)


APP_OBJECT = re.compile(r"^(\w+)[ \t]*=[ \t]*df\.DFApp\(.*\)[ \t]*$", re.MULTILINE)


def app_object_line(code: str) -> str | None:
    """The `name = df.DFApp(...)` line a page's own sample uses, if it has one."""
    found = APP_OBJECT.search(code)
    return found.group(0) if found else None


def assemble(
    snippets: list[str], app_line: str | None, app_line_source: str | None
) -> tuple[str, list[Addition]]:
    """function_app.py from snippets in page order; the app object inserted if used but missing.

    The app object goes right before the first top-level line that is not an import, comment or
    blank, so it follows the imports it needs and precedes the first decorator.
    """
    lines = "\n\n".join(snippet.rstrip("\n") for snippet in snippets).splitlines()
    additions: list[Addition] = []
    source = "\n".join(lines)
    if app_line is not None:
        name = app_line.split("=", 1)[0].strip()
        uses = re.search(rf"^@{re.escape(name)}\.", source, re.MULTILINE)
        defines = re.search(rf"^{re.escape(name)}\s*=", source, re.MULTILINE)
        if uses and not defines:
            at = next(
                index
                for index, line in enumerate(lines)
                if line.strip() and not line.startswith((" ", "\t", "#", "import ", "from "))
            )
            lines[at:at] = [app_line, ""]
            additions.append(Addition(at + 1, app_line, app_line_source))
    return "\n".join(lines) + "\n", additions
