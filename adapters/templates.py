"""The app's one Jinja2 environment, over web/: HTML escaped everywhere, unknown names an error."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

WEB = Path(__file__).resolve().parent.parent / "web"

TEMPLATES = Environment(
    loader=FileSystemLoader(WEB),
    # On for .html (and for templates made from strings); plain-text mail is not HTML.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def mail_parts(template: str, values: Mapping[str, Any]) -> tuple[str, str]:
    """A mail's plain-text and HTML parts, from web/<template>.txt and web/<template>.html."""
    text = TEMPLATES.get_template(f"{template}.txt").render(values)
    return text, TEMPLATES.get_template(f"{template}.html").render(values)
