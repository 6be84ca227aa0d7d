"""Matches request paths against Functions route templates ({name}, {id?}, {id:int}, {*rest})."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

_PARAM = re.compile(r"^\{(?P<catch>\*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}$")


class RouteTemplateError(ValueError):
    """A route template uses syntax devhost (and the host) does not accept."""


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _is_datetime(v: str) -> bool:
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


def _is_guid(v: str) -> bool:
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


_INT = re.compile(r"^-?\d+$")
_SIMPLE_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": lambda v: bool(_INT.match(v)) and -(2**31) <= int(v) < 2**31,
    "long": lambda v: bool(_INT.match(v)) and -(2**63) <= int(v) < 2**63,
    "alpha": lambda v: v.isascii() and v.isalpha(),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _is_guid,
    "double": _is_float,
    "float": _is_float,
    "decimal": _is_float,
    "datetime": _is_datetime,
}


def _constraint(spec: str) -> Callable[[str], bool]:
    m = re.fullmatch(r"(?P<name>[a-z]+)(?:\((?P<arg>.*)\))?", spec)
    if not m:
        raise RouteTemplateError(f"unsupported route constraint '{spec}'")
    name, arg = m["name"], m["arg"]
    if arg is None and name in _SIMPLE_CONSTRAINTS:
        return _SIMPLE_CONSTRAINTS[name]
    try:
        if name == "minlength":
            return lambda v, n=int(arg): len(v) >= n
        if name == "maxlength":
            return lambda v, n=int(arg): len(v) <= n
        if name == "length":
            lo, _, hi = arg.partition(",")
            return lambda v, a=int(lo), b=int(hi or lo): a <= len(v) <= b
        if name == "min":
            return lambda v, n=int(arg): bool(_INT.match(v)) and int(v) >= n
        if name == "max":
            return lambda v, n=int(arg): bool(_INT.match(v)) and int(v) <= n
        if name == "range":
            lo, hi = arg.split(",")
            return lambda v, a=int(lo), b=int(hi): bool(_INT.match(v)) and a <= int(v) <= b
        if name == "regex":
            pattern = re.compile(arg, re.IGNORECASE)
            return lambda v: bool(pattern.search(v))
    except (TypeError, ValueError) as exc:
        raise RouteTemplateError(f"bad argument in route constraint '{spec}'") from exc
    raise RouteTemplateError(f"unsupported route constraint '{spec}'")


@dataclass
class _Segment:
    literal: str | None = None
    name: str | None = None
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    checks: list[Callable[[str], bool]] = field(default_factory=list)


def _split_constraints(rest: str) -> tuple[list[str], bool, str | None]:
    """Parse ':c1:c2(arg)?' or '=default' after a parameter name."""
    optional = rest.endswith("?")
    if optional:
        rest = rest[:-1]
    default = None
    if "=" in rest:
        rest, default = rest.split("=", 1)
    specs: list[str] = []
    depth, current = 0, ""
    for ch in rest:
        if ch == ":" and depth == 0:
            if current:
                specs.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        specs.append(current)
    return specs, optional, default


class RouteTemplate:
    """A compiled route template; segments match whole path segments, case-insensitively."""

    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self.segments: list[_Segment] = []
        parts = self.template.split("/") if self.template else []
        for index, part in enumerate(parts):
            m = _PARAM.match(part)
            if not m:
                if "{" in part or "}" in part:
                    raise RouteTemplateError(
                        f"route '{template}': parameters must fill a whole segment ('{part}')"
                    )
                self.segments.append(_Segment(literal=part.lower()))
                continue
            specs, optional, default = _split_constraints(m["rest"])
            seg = _Segment(
                name=m["name"],
                optional=optional or default is not None or bool(m["catch"]),
                default=default,
                catch_all=bool(m["catch"]),
                checks=[_constraint(s) for s in specs],
            )
            if seg.catch_all and index != len(parts) - 1:
                raise RouteTemplateError(f"route '{template}': a catch-all must be last")
            self.segments.append(seg)
        # ASP.NET orders candidate routes: literals before constrained parameters, before
        # plain parameters, before catch-alls.
        self.precedence = tuple(
            0 if s.literal is not None else 3 if s.catch_all else 1 if s.checks else 2
            for s in self.segments
        )

    def match(self, path: str) -> dict[str, str] | None:
        """Return the route parameters when `path` (without prefix) matches, else None."""
        parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.catch_all:
                value = "/".join(parts[i:])
                if value:
                    params[seg.name] = value
                elif seg.default is not None:
                    params[seg.name] = seg.default
                return params
            if i >= len(parts):
                if seg.optional and all(s.optional for s in self.segments[i:]):
                    for rest in self.segments[i:]:
                        if rest.default is not None:
                            params[rest.name] = rest.default
                    return params
                return None
            value = parts[i]
            if seg.literal is not None:
                if value.lower() != seg.literal:
                    return None
                continue
            if not value or not all(check(value) for check in seg.checks):
                return None
            params[seg.name] = value
        return params if len(parts) == len(self.segments) else None
