"""The extraction behind scripts/check_doc_samples.py, on a small page written for this test."""

from scripts.doc_snippets import (
    app_object_line,
    assemble,
    model_of,
    parse_page,
    python_blocks,
    python_tab_text,
)

PAGE = """---
title: A made-up page
# ms.devlang: python
---

# Widgets

## Make a widget

::: zone pivot="durable-functions"

# [C#](#tab/csharp)

```csharp
var widget = new Widget();
```

# [Python](#tab/python)

```python
import azure.durable_functions as df

# the widget maker
@bp.activity_trigger(input_name="size")
def make_widget(size: int):
    return size * 2
```

---

::: zone-end

::: zone pivot="durable-task-sdks"

# [Python](#tab/python)

```python
def make_widget(ctx, size):
    return size
```

---

::: zone-end

### <a name="polish"></a>Polish a widget

# [Python](#tab/python)

```python
@bp.route(route="polish")
def polish(req):
    return "shiny"
```

<!-- ```python
@bp.route(route="hidden")
def hidden(req):
    return "not shown"
``` -->

---

### Paint a widget

# [Python](#tab/python)

> [!NOTE]
> Painting isn't available in Python.

---

### Old style

# [Python](#tab/python)

```python
def main(req, starter: str):
    return None
```

---
"""


def test_blocks_carry_their_section_zone_and_tab() -> None:
    page = parse_page(PAGE)

    made = python_blocks(page, "Make a widget", "durable-functions")

    assert [block.line for block in made] == [20]  # the opening fence
    assert made[0].zone == frozenset({"durable-functions"})
    assert made[0].tab == "python"
    assert made[0].code.startswith("import azure.durable_functions as df\n")
    assert made[0].code.endswith("return size * 2\n")
    # The C# tab and the other zone's Python tab are not taken.
    assert [b.lang for b in page.blocks if b.section == "Make a widget"] == [
        "csharp",
        "python",
        "python",
    ]
    assert python_blocks(page, "Make a widget", "durable-task-sdks")[0].code.startswith(
        "def make_widget(ctx"
    )


def test_anchors_are_dropped_from_headings_and_comments_hide_code() -> None:
    page = parse_page(PAGE)

    polish = python_blocks(page, "Polish a widget", None)

    assert len(polish) == 1
    assert "shiny" in polish[0].code
    assert not any("hidden" in block.code for block in page.blocks)
    # Front matter comments are not headings.
    assert all(block.section != "ms.devlang: python" for block in page.blocks)


def test_a_tab_without_code_reports_what_it_says() -> None:
    page = parse_page(PAGE)

    assert python_blocks(page, "Paint a widget", None) == []
    assert python_tab_text(page, "Paint a widget", None) == (
        "> [!NOTE]\n> Painting isn't available in Python."
    )


def test_models_are_told_apart() -> None:
    page = parse_page(PAGE)

    assert model_of(python_blocks(page, "Make a widget", "durable-functions")[0].code) == "v2"
    assert model_of(python_blocks(page, "Old style", None)[0].code) == "v1"
    assert model_of("x = 1\n") == "?"


def test_assemble_inserts_the_app_object_after_imports_and_records_it() -> None:
    page = parse_page(PAGE)
    snippets = [
        python_blocks(page, "Make a widget", "durable-functions")[0].code,
        python_blocks(page, "Polish a widget", None)[0].code,
    ]

    source, additions = assemble(snippets, "bp = df.DFApp()", "made-up page line 3")

    lines = source.splitlines()
    assert lines[:5] == [
        "import azure.durable_functions as df",
        "",
        "# the widget maker",
        "bp = df.DFApp()",
        "",
    ]
    assert [(a.line, a.text, a.prescribed_by) for a in additions] == [
        (4, "bp = df.DFApp()", "made-up page line 3")
    ]
    # The snippets themselves are unchanged and in page order.
    body = "\n".join(lines[:3] + lines[5:]) + "\n"
    assert body == snippets[0] + "\n" + snippets[1]
    compile(source, "function_app.py", "exec")


def test_assemble_adds_nothing_when_the_snippets_define_the_app() -> None:
    snippet = (
        "import azure.durable_functions as df\nbp = df.DFApp()\n\n"
        "@bp.route()\ndef f(r):\n    pass\n"
    )

    source, additions = assemble([snippet], "bp = df.DFApp()", "x")

    assert additions == []
    assert source == snippet


def test_app_object_line_is_found_in_a_sample() -> None:
    code = "import azure.durable_functions as df\n\nmyApp = df.DFApp(http_auth_level=1)  \n"

    assert app_object_line(code) == "myApp = df.DFApp(http_auth_level=1)  "
    assert app_object_line("app = func.FunctionApp()\n") is None
