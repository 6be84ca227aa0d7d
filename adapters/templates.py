"""The app's one Jinja2 environment, over web/: HTML escaped everywhere, unknown names an error."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

WEB = Path(__file__).resolve().parent.parent / "web"

TEMPLATES = Environment(
    loader=FileSystemLoader(WEB),
    # On for .html (and for templates made from strings); plain-text mail is not HTML.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
