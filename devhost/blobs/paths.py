"""Blob trigger path patterns (`container/{name}.{ext}`), parsed and matched like the host."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The extension's template grammar: `{{` and `}}` escape a brace, `{x}` is a parameter, any
# other run of characters is literal, and a lone brace is unbalanced.
_TOKEN = re.compile(
    r"(?P<escape>\{\{|\}\})|\{(?P<param>[^{}]*)\}|(?P<literal>[^{}]+)|(?P<lone>[{}])"
)
_IDENTIFIER = re.compile(r"^[^\W\d]\w*$")
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_BLOB_NAME = 1024


class BlobPathError(ValueError):
    """A blob trigger path the extension would refuse; the message says why."""


@dataclass(frozen=True)
class BlobPath:
    """A blob's address inside an account."""

    container: str
    blob: str

    def __str__(self) -> str:
        return f"{self.container}/{self.blob}" if self.blob else self.container


def validate_container_name(name: str) -> None:
    """3-63 characters: lowercase letters, digits and single hyphens, no hyphen at either end."""
    if name != "$root" and not _CONTAINER.match(name):
        raise BlobPathError(
            f"Invalid container name: {name} (3-63 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit)"
        )


def validate_blob_name(name: str) -> None:
    if not 1 <= len(name) <= MAX_BLOB_NAME:
        raise BlobPathError(
            f"The given blob name '{name}' must be 1 to {MAX_BLOB_NAME} characters long."
        )
    if name.endswith((".", "/")):
        raise BlobPathError(
            f"The given blob name '{name}' has an invalid suffix. Avoid blob names that end "
            "with a dot ('.'), a forward slash ('/'), or a sequence or combination of the two."
        )
    if "\\" in name:
        raise BlobPathError(f"The given blob name '{name}' contains the illegal character '\\'.")


def _tokens(pattern: str) -> list[tuple[str, str]]:
    """The pattern as ("literal", text) and ("param", name) tokens."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(pattern):
        if match.group("escape"):
            tokens.append(("literal", match.group("escape")[0]))
        elif match.group("literal") is not None:
            tokens.append(("literal", match.group("literal")))
        elif match.group("lone"):
            side = "closing" if match.group("lone") == "{" else "opening"
            raise BlobPathError(
                f"Invalid template '{pattern}'. Missing {side} bracket at position "
                f"{match.start() + 1}."
            )
        else:
            name = match.group("param")
            if not name:
                raise BlobPathError(
                    f"Invalid template '{pattern}'. The parameter name at position "
                    f"{match.start() + 1} is empty."
                )
            if "." in name:
                raise BlobPathError(
                    f"Invalid template '{pattern}'. Capture expressions can't include dot "
                    f"operators ('{name}')."
                )
            if not _IDENTIFIER.match(name):
                raise BlobPathError(
                    f"Invalid template '{pattern}'. The parameter name '{name}' is invalid."
                )
            tokens.append(("param", name))
    return tokens


class BlobPathPattern:
    """A trigger path: `container`, `container/blob`, or one with `{parameters}` in the blob part.

    A parameter matches any run of characters, slashes included (`samples/{name}` matches
    `samples/a/b.txt` with name `a/b.txt`), greedily, as the extension's capture regex does.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        slash = pattern.find("/")
        has_blob = slash != -1
        self.container = pattern[:slash] if has_blob else pattern
        self.blob_pattern = pattern[slash + 1 :] if has_blob else ""
        if (has_blob and not 0 < slash < len(pattern) - 1) or "\\" in self.container:
            raise BlobPathError(
                f"Invalid blob trigger path '{pattern}'. Paths must be in the format "
                "'container/blob'."
            )
        if "{" in self.container or "}" in self.container:
            raise BlobPathError(
                f"Invalid blob trigger path '{pattern}'. Container paths cannot contain "
                "{resolve} tokens."
            )
        tokens = _tokens(pattern)
        validate_container_name(self.container)
        self.parameters: list[str] = []
        regex = []
        for kind, text in tokens:
            if kind == "literal":
                regex.append(re.escape(text))
            else:
                regex.append(f"(?P<p{len(self.parameters)}>.*)")
                self.parameters.append(text)
        if not self.parameters and self.blob_pattern:
            validate_blob_name(self.blob_pattern)
        self._regex = re.compile("^" + "".join(regex) + "$")
        self.prefix = self._literal_blob_prefix(tokens)

    def _literal_blob_prefix(self, tokens: list[tuple[str, str]]) -> str:
        """The blob-name prefix every matching blob starts with (for listing)."""
        text = []
        for kind, value in tokens:
            if kind == "param":
                break
            text.append(value)
        literal = "".join(text)
        return literal[len(self.container) + 1 :] if "/" in literal else ""

    @property
    def is_parameterized(self) -> bool:
        return bool(self.parameters)

    def match(self, path: BlobPath) -> dict[str, str] | None:
        """The bound parameters when `path` matches (empty for fixed paths), else None."""
        if not self.parameters:
            if str(path) == str(BlobPath(self.container, self.blob_pattern)):
                return {}
            if not self.blob_pattern and path.container == self.container:
                return {}
            return None
        if path.container.lower() != self.container.lower():
            return None
        found = self._regex.match(str(path))
        if found is None:
            return None
        bound: dict[str, str] = {}
        for index, name in enumerate(self.parameters):
            # A repeated name keeps its last capture, as .NET's named groups do.
            for key in [k for k in bound if k.lower() == name.lower()]:
                del bound[key]
            bound[name] = found.group(f"p{index}")
        return bound

    def __str__(self) -> str:
        return self.pattern
