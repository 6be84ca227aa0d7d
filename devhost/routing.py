"""Parses and matches Functions route templates as ASP.NET Core's Route and TemplateMatcher do."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

Check = Callable[[str], bool]


class RouteTemplateError(ValueError):
    """A route template uses syntax devhost (and the host) does not accept."""


# -- .NET string semantics -------------------------------------------------------------------


def ordinal_ignore_case(text: str) -> str:
    """A key that compares like StringComparer.OrdinalIgnoreCase (per-char simple upper case)."""
    return "".join(upper if len(upper := ch.upper()) == 1 else ch for ch in text)


def _is_dotnet_space(ch: str) -> bool:
    """char.IsWhiteSpace: the Unicode separators plus U+0009-U+000D and U+0085."""
    return ch in "\t\n\v\f\r\x85" or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _dotnet_trim(text: str, extra: str = "") -> str:
    """String.Trim(): drop char.IsWhiteSpace characters (and `extra`) at both ends."""
    start, end = 0, len(text)
    while start < end and (_is_dotnet_space(text[start]) or text[start] in extra):
        start += 1
    while end > start and (_is_dotnet_space(text[end - 1]) or text[end - 1] in extra):
        end -= 1
    return text[start:end]


def _utf16_length(text: str) -> int:
    """String.Length counts UTF-16 code units: a character outside the BMP counts twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# NumberStyles.Integer with the invariant culture: [ws][+|-]digits[ws], ASCII digits only,
# where the number parser's whitespace is U+0020 and U+0009-U+000D.
_INTEGER = re.compile(r"[\t\n\v\f\r ]*([+-]?[0-9]+)[\t\n\v\f\r ]*")


def parse_dotnet_integer(text: str, bits: int) -> int | None:
    """int.TryParse / long.TryParse(NumberStyles.Integer, InvariantCulture); None on failure."""
    m = _INTEGER.fullmatch(text)
    if m is None:
        return None
    value = int(m[1])
    return value if -(2 ** (bits - 1)) <= value < 2 ** (bits - 1) else None


# -- Guid.TryParse ---------------------------------------------------------------------------

_HEX = frozenset("0123456789abcdefABCDEF")


def _all_hex(text: str) -> bool:
    return all(ch in _HEX for ch in text)


def _guid_hex(text: str) -> int | None:
    """Guid's TryParseHex: optional '+', optional '0x', any leading zeros, up to 8 hex digits."""
    if text.startswith("+"):
        text = text[1:]
    if len(text) > 1 and text[0] == "0" and text[1] in "xX":
        text = text[2:]
    digits = text.lstrip("0")
    if len(digits) > 8 or not _all_hex(digits):
        return None
    return int(digits or "0", 16)


def _guid_d(text: str) -> bool:
    """Format D, dddddddd-dddd-dddd-dddd-dddddddddddd (components may carry '+' / '0x')."""
    if len(text) != 36 or any(text[i] != "-" for i in (8, 13, 18, 23)):
        return False
    parts = (text[0:8], text[9:13], text[14:18], text[19:23], text[24:28])
    return all(_guid_hex(p) is not None for p in parts) and _all_hex(text[28:36])


def _guid_wrapped(text: str, first: str, last: str) -> bool:
    """Formats B {D} and P (D)."""
    return len(text) == 38 and text[0] == first and text[37] == last and _guid_d(text[1:37])


def _guid_x(text: str) -> bool:
    """Format X, {0xdddddddd,0xdddd,0xdddd,{0xdd,0xdd,0xdd,0xdd,0xdd,0xdd,0xdd,0xdd}}."""
    text = "".join(ch for ch in text if not _is_dotnet_space(ch))
    if not text.startswith("{"):
        return False
    pos = 1
    for index in range(11):
        if index == 3:
            if text[pos : pos + 1] != "{":
                return False
            pos += 1
        if text[pos : pos + 2].lower() != "0x":
            return False
        start = pos + 2
        end = text.find("}" if index == 10 else ",", start)
        value = _guid_hex(text[start:end]) if end > start else None
        if value is None or (index >= 3 and value > 0xFF):
            return False
        pos = end + 1
    return pos == len(text) - 1 and text[pos] == "}"


def is_dotnet_guid(text: str) -> bool:
    """Guid.TryParse: formats N, D, B, P and X, surrounding whitespace ignored."""
    text = _dotnet_trim(text)
    if not text:
        return False
    if text[0] == "(":
        return _guid_wrapped(text, "(", ")")
    if text[0] == "{":
        return _guid_wrapped(text, "{", "}") if "-" in text else _guid_x(text)
    if "-" in text:
        return _guid_d(text)
    return len(text) == 32 and _all_hex(text)


# -- inline constraints (RouteOptions.ConstraintMap) -----------------------------------------


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


def _is_file_name(v: str) -> bool:
    """FileNameRouteConstraint: the last '/'-segment has a '.' followed by a non-'.' character."""
    last = v.rpartition("/")[2]
    dot = last.find(".")
    return dot >= 0 and any(ch != "." for ch in last[dot + 1 :])


def _is_not_file_name(v: str) -> bool:
    """NonFileNameRouteConstraint; it also lets a parameter without a value through."""
    return not _is_file_name(v)


_PARAMETERLESS: dict[str, Check] = {
    "INT": lambda v: parse_dotnet_integer(v, 32) is not None,
    "LONG": lambda v: parse_dotnet_integer(v, 64) is not None,
    "ALPHA": lambda v: v.isascii() and v.isalpha(),
    "BOOL": lambda v: _dotnet_trim(v, "\0").lower() in ("true", "false"),
    "GUID": is_dotnet_guid,
    "DOUBLE": _is_float,
    "FLOAT": _is_float,
    "DECIMAL": _is_float,
    "DATETIME": _is_datetime,
    "REQUIRED": lambda v: v != "",
    "FILE": _is_file_name,
    "NONFILE": _is_not_file_name,
}

# Every other constraint refuses a parameter that has no value (null in RouteValueDictionary).
_PASSES_WITHOUT_VALUE: frozenset[Check] = frozenset({_is_not_file_name})


def _int_argument(text: str | None, bits: int = 32) -> int:
    """Convert.ChangeType(argument, int|long, InvariantCulture)."""
    value = None if text is None else parse_dotnet_integer(text, bits)
    if value is None:
        raise ValueError(f"{text!r} is not an integer")
    return value


def _arguments(text: str | None, counts: tuple[int, ...]) -> list[str]:
    """Split an argument list on ',' and trim each entry (StringSplitOptions.TrimEntries)."""
    parts = [] if text is None else [_dotnet_trim(p) for p in text.split(",")]
    if len(parts) not in counts:
        raise ValueError(f"takes {' or '.join(map(str, counts))} argument(s)")
    return parts


def _length_check(arg: str | None) -> Check:
    bounds = [_int_argument(a) for a in _arguments(arg, (1, 2))]
    lo, hi = bounds[0], bounds[-1]
    if lo < 0 or hi < lo:
        raise ValueError("bad bounds")
    return lambda v: lo <= _utf16_length(v) <= hi


def _length_bound(arg: str | None, at_least: bool) -> Check:
    n = _int_argument(arg)
    if n < 0:
        raise ValueError("negative length")
    if at_least:
        return lambda v: _utf16_length(v) >= n
    return lambda v: _utf16_length(v) <= n


def _value_range(lo: int | None, hi: int | None) -> Check:
    def check(v: str) -> bool:
        n = parse_dotnet_integer(v, 64)
        return n is not None and (lo is None or n >= lo) and (hi is None or n <= hi)

    return check


def _range_check(arg: str | None) -> Check:
    lo, hi = (_int_argument(a, 64) for a in _arguments(arg, (2,)))
    if lo > hi:
        raise ValueError("min is greater than max")
    return _value_range(lo, hi)


def _regex_check(arg: str | None) -> Check:
    if arg is None:
        raise ValueError("needs a pattern")
    pattern = re.compile(arg, re.IGNORECASE)
    return lambda v: pattern.search(v) is not None


_WITH_ARGUMENTS: dict[str, Callable[[str | None], Check]] = {
    "MINLENGTH": lambda a: _length_bound(a, at_least=True),
    "MAXLENGTH": lambda a: _length_bound(a, at_least=False),
    "LENGTH": _length_check,
    "MIN": lambda a: _value_range(_int_argument(a, 64), None),
    "MAX": lambda a: _value_range(None, _int_argument(a, 64)),
    "RANGE": _range_check,
    "REGEX": _regex_check,
}


def _resolve_constraint(spec: str, template: str) -> Check:
    """DefaultInlineConstraintResolver: 'name' or 'name(arguments)', names case-insensitive."""
    open_paren = spec.find("(")
    if open_paren >= 0 and spec.endswith(")"):
        key, arg = spec[:open_paren], spec[open_paren + 1 : -1]
    else:
        key, arg = spec, None
    name = ordinal_ignore_case(key)
    try:
        if name in _PARAMETERLESS:
            if arg is not None:
                raise ValueError("takes no argument")
            return _PARAMETERLESS[name]
        if name in _WITH_ARGUMENTS:
            return _WITH_ARGUMENTS[name](arg)
    except (ValueError, re.error) as exc:
        raise RouteTemplateError(
            f"route '{template}': bad argument in route constraint '{spec}' ({exc})"
        ) from exc
    raise RouteTemplateError(f"route '{template}': unsupported route constraint '{key}'")


# -- template parsing (RoutePatternParser, RouteParameterParser) -----------------------------


@dataclass
class _Segment:
    literal: str | None = None
    name: str | None = None
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    checks: list[Check] = field(default_factory=list)


@dataclass
class _Parameter:
    """The inside of '{...}' after brace unescaping, parsed."""

    name: str
    catch_all: bool
    optional: bool
    constraints: list[str]
    default: str | None


_State = tuple[str, int, int]  # (state, start of the current constraint, index)


def _after_start(ch: str | None, start: int, i: int) -> _State:
    if ch is None:
        return "end", start, i
    if ch == ":":
        return "name", i + 1, i
    if ch == "(":
        return "paren", start, i
    if ch == "=":
        return "end", start, i - 1
    return "start", start, i


def _in_name(text: str, ch: str | None, start: int, i: int, found: list[str]) -> _State:
    if ch in (None, ":", "=") and text[start:i]:
        found.append(text[start:i])
    if ch is None:
        return "end", start, i
    if ch == ":":
        return "name", i + 1, i
    if ch == "(":
        return "paren", start, i
    if ch == "=":
        return "end", start, i - 1
    return "name", start, i


def _in_parenthesis(
    text: str, ch: str | None, start: int, i: int, end: int, found: list[str]
) -> _State:
    if ch is None:
        found.append(text[start:i])
        return "end", start, i
    if ch == ")":
        # Only a ')' that ends the text or precedes ':' or '=' closes the constraint.
        following = text[i + 1] if i + 1 <= end else None
        if following is None or following in ":=":
            found.append(text[start : i + 1])
            return ("start", i + 1, i) if following == ":" else ("end", start, i)
        return "paren", start, i
    if ch in ":=":
        close = text.find(")", i + 1)
        if close != -1:
            return "paren", start, close
        found.append(text[start:i])
        return ("name", i + 1, i) if ch == ":" else ("end", start, i - 1)
    return "paren", start, i


def _parse_constraints(text: str, i: int, end: int) -> tuple[list[str], int]:
    """RouteParameterParser.ParseConstraints: ':c1:c2(args)' up to an '=' default."""
    found: list[str] = []
    state, start = "start", i
    while state != "end":
        ch = text[i] if i <= end else None
        if state == "start":
            state, start, i = _after_start(ch, start, i)
        elif state == "name":
            state, start, i = _in_name(text, ch, start, i, found)
        else:
            state, start, i = _in_parenthesis(text, ch, start, i, end, found)
        i += 1
    return found, i


def _parse_parameter_text(text: str) -> _Parameter:
    """RouteParameterParser.ParseRouteParameter: '*'/'**', name, constraints, '=default', '?'."""
    if not text:
        return _Parameter("", False, False, [], None)
    start, end = 0, len(text) - 1
    catch_all = text.startswith("*")
    start = 2 if text.startswith("**") else int(catch_all)
    optional = text[end] == "?"
    end -= optional
    i, name = start, ""
    while i <= end:
        if text[i] in ":=" and i != start:
            name, i = text[start:i], i - 1
            break
        if i == end:
            name = text[start : i + 1]
        i += 1
    constraints, i = _parse_constraints(text, i, end)
    default = text[i + 1 : end + 1] if i <= end and text[i] == "=" else None
    return _Parameter(name, catch_all and not optional, optional, constraints, default)


def _scan_parameter(text: str, pos: int, template: str) -> tuple[str, int]:
    """From the '{' at `pos` to its closing '}', with '{{' and '}}' escapes inside."""
    start, pos = pos, pos + 1
    while True:
        if pos >= len(text):
            raise RouteTemplateError(f"route '{template}': a parameter is not closed with '}}'")
        ch = text[pos]
        if ch == "{":
            if text[pos + 1 : pos + 2] != "{":
                raise RouteTemplateError(
                    f"route '{template}': a '{{' inside a parameter must be escaped as '{{{{'"
                )
            pos += 2
        elif ch == "}" and text[pos + 1 : pos + 2] == "}":
            pos += 2
        elif ch == "}":
            return text[start + 1 : pos].replace("}}", "}").replace("{{", "{"), pos + 1
        else:
            pos += 1


def _scan_literal(text: str, pos: int, template: str) -> tuple[str, int]:
    """A literal up to the next '/' or unescaped '{'; '{{' and '}}' stand for braces."""
    start = pos
    while pos < len(text) and text[pos] != "/":
        pair = text[pos : pos + 2]
        if pair in ("{{", "}}"):
            pos += 2
            continue
        if text[pos] == "{":
            break
        if text[pos] == "}":
            raise RouteTemplateError(f"route '{template}': unmatched '}}' in '{text[start:]}'")
        pos += 1
    literal = text[start:pos].replace("}}", "}").replace("{{", "{")
    if "?" in literal:
        raise RouteTemplateError(f"route '{template}': the literal '{literal}' contains '?'")
    return literal, pos


def _parameter_segment(raw: str, template: str, names: set[str]) -> _Segment:
    """Validate one '{...}' as RoutePatternParser does and resolve its constraints."""
    param = _parse_parameter_text(raw)
    if raw.startswith("*") and raw.endswith("?"):
        raise RouteTemplateError(f"route '{template}': a catch-all parameter cannot be optional")
    if param.optional and param.default is not None:
        raise RouteTemplateError(
            f"route '{template}': an optional parameter cannot have a default value"
        )
    if not param.name or any(ch in "/{}?*" for ch in param.name):
        raise RouteTemplateError(f"route '{template}': invalid parameter name '{param.name}'")
    if ordinal_ignore_case(param.name) in names:
        raise RouteTemplateError(
            f"route '{template}': the parameter '{param.name}' appears more than once"
        )
    names.add(ordinal_ignore_case(param.name))
    return _Segment(
        name=param.name,
        optional=param.optional,
        default=param.default,
        catch_all=param.catch_all,
        checks=[_resolve_constraint(spec, template) for spec in param.constraints],
    )


def _parse_segment(text: str, pos: int, template: str, names: set[str]) -> tuple[_Segment, int]:
    """One path segment: a literal, or one parameter filling the whole segment."""
    parts: list[_Segment] = []
    while pos < len(text) and text[pos] != "/":
        if text[pos] == "{" and text[pos + 1 : pos + 2] != "{":
            raw, pos = _scan_parameter(text, pos, template)
            parts.append(_parameter_segment(raw, template, names))
        else:
            literal, pos = _scan_literal(text, pos, template)
            parts.append(_Segment(literal=ordinal_ignore_case(literal)))
    if len(parts) == 1:
        return parts[0], pos
    if any(a.name and b.name for a, b in pairwise(parts)):
        raise RouteTemplateError(
            f"route '{template}': a segment cannot hold two consecutive parameters"
        )
    raise RouteTemplateError(
        f"route '{template}': devhost supports parameters that fill a whole segment only "
        f"('{text[:pos].rpartition('/')[2]}')"
    )


def _parse_template(template: str) -> list[_Segment]:
    text = template.strip("/")
    segments: list[_Segment] = []
    names: set[str] = set()
    pos = 0
    while pos < len(text):
        if text[pos] == "/":
            raise RouteTemplateError(f"route '{template}': consecutive '/' separators")
        segment, pos = _parse_segment(text, pos, template, names)
        segments.append(segment)
        pos += 1
    for segment in segments[:-1]:
        if segment.catch_all:
            raise RouteTemplateError(f"route '{template}': a catch-all must be last")
    return segments


# -- matching (RoutePatternMatcher, RouteConstraintMatcher) ----------------------------------


def _path_segments(path: str) -> list[tuple[int, str]]:
    """PathTokenizer: the segments of a '/'-rooted path with their offsets (a trailing '/'
    adds no segment, but '//' gives an empty one)."""
    segments: list[tuple[int, str]] = []
    index = 1
    while index < len(path):
        delimiter = path.find("/", index)
        if delimiter == -1:
            segments.append((index, path[index:]))
            break
        segments.append((index, path[index:delimiter]))
        index = delimiter + 1
    return segments


class RouteTemplate:
    """A compiled route template; segments match whole path segments, case-insensitively."""

    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self.segments = _parse_template(template)

    def match(self, path: str) -> dict[str, str] | None:
        """Return the route parameters when `path` (without prefix) matches, else None."""
        rooted = path if path.startswith("/") else "/" + path
        values = self._capture(rooted, _path_segments(rooted))
        if values is None or not self._constraints_hold(values):
            return None
        return {k: v for k, v in values.items() if v is not None}

    def _capture(self, path: str, tokens: list[tuple[int, str]]) -> dict[str, str | None] | None:
        values: dict[str, str | None] = {}
        for index, (offset, text) in enumerate(tokens):
            if not text or index >= len(self.segments):
                return None
            segment = self.segments[index]
            if segment.catch_all:
                values[segment.name or ""] = path[offset:]
                return values
            if segment.literal is not None:
                if ordinal_ignore_case(text) != segment.literal:
                    return None
            else:
                values[segment.name or ""] = text
        for segment in self.segments[len(tokens) :]:
            if segment.literal is not None:
                return None
            if segment.default is None and not (segment.optional or segment.catch_all):
                return None
            values[segment.name or ""] = segment.default
        return values

    def _constraints_hold(self, values: dict[str, str | None]) -> bool:
        """Constraints see the value or default; only an optional ('?') parameter may lack one."""
        for segment in self.segments:
            if not segment.checks:
                continue
            value = values.get(segment.name or "")
            if value is None:
                if segment.optional or _PASSES_WITHOUT_VALUE.issuperset(segment.checks):
                    continue
                return False
            if not all(check(value) for check in segment.checks):
                return False
        return True
