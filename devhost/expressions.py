"""Resolves `%AppSetting%` binding expressions the way the host does, anywhere in a value."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_EXPRESSION = re.compile(r"%([^%]+)%")


class BindingExpressionError(ValueError):
    """A binding refers to an app setting that is not set."""


def resolve(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace each `%Name%` with the app setting Name; an unset setting is an error."""
    env = os.environ if environ is None else environ

    def setting(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise BindingExpressionError(
                f"'{value}' refers to app setting '{name}', which is not set"
            )
        return env[name]

    return _EXPRESSION.sub(setting, value)
