"""Blob trigger path patterns: the extension's parsing rules, matching and bound parameters."""

from __future__ import annotations

import pytest

from devhost.blobs.paths import BlobPath, BlobPathError, BlobPathPattern


def test_name_matches_the_rest_of_the_path_slashes_included() -> None:
    pattern = BlobPathPattern("samples/{name}")
    assert pattern.match(BlobPath("samples", "a.txt")) == {"name": "a.txt"}
    assert pattern.match(BlobPath("samples", "dir/sub/a.txt")) == {"name": "dir/sub/a.txt"}
    assert pattern.match(BlobPath("other", "a.txt")) is None
    assert pattern.prefix == ""


def test_several_parameters_bind_greedily_like_the_capture_regex() -> None:
    pattern = BlobPathPattern("images/{category}/{name}.{ext}")
    assert pattern.parameters == ["category", "name", "ext"]
    assert pattern.match(BlobPath("images", "cats/tom.png")) == {
        "category": "cats",
        "name": "tom",
        "ext": "png",
    }
    assert pattern.match(BlobPath("images", "a/b/c.tar.gz")) == {
        "category": "a/b",
        "name": "c.tar",
        "ext": "gz",
    }
    assert pattern.match(BlobPath("images", "readme")) is None
    assert pattern.match(BlobPath("images", "cats/readme")) is None


def test_literal_text_around_parameters_and_the_listing_prefix() -> None:
    pattern = BlobPathPattern("input/original-{name}.txt")
    assert pattern.prefix == "original-"
    assert pattern.match(BlobPath("input", "original-Blob1.txt")) == {"name": "Blob1"}
    assert pattern.match(BlobPath("input", "copy-Blob1.txt")) is None
    assert pattern.match(BlobPath("input", "original-Blob1.txt.bak")) is None


def test_escaped_braces_are_literal() -> None:
    pattern = BlobPathPattern("logs/{{2024}}/{name}")
    assert pattern.match(BlobPath("logs", "{2024}/a.log")) == {"name": "a.log"}
    assert pattern.match(BlobPath("logs", "2024/a.log")) is None


def test_container_only_and_fixed_paths() -> None:
    container = BlobPathPattern("texts")
    assert container.match(BlobPath("texts", "any/blob.txt")) == {}
    assert container.match(BlobPath("other", "blob.txt")) is None
    fixed = BlobPathPattern("config/settings.json")
    assert fixed.match(BlobPath("config", "settings.json")) == {}
    assert fixed.match(BlobPath("config", "settings.json.bak")) is None
    assert fixed.prefix == "settings.json"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{container}/{name}", "Container paths cannot contain {resolve} tokens"),
        ("samples/", "Paths must be in the format 'container/blob'"),
        ("/samples", "Paths must be in the format 'container/blob'"),
        ("samples/{na-me}", "The parameter name 'na-me' is invalid"),
        ("samples/{}", "is empty"),
        ("samples/{name", "Missing closing bracket"),
        ("samples/name}", "Missing opening bracket"),
        ("samples/{a.b}", "can't include dot operators"),
        ("Samples/{name}", "Invalid container name: Samples"),
        ("a--b/{name}", "Invalid container name"),
        ("ab/{name}", "Invalid container name"),
        ("samples/file.", "invalid suffix"),
    ],
)
def test_invalid_paths_are_refused_with_the_reason(path: str, message: str) -> None:
    with pytest.raises(BlobPathError, match=message.replace("{", r"\{").replace("}", r"\}")):
        BlobPathPattern(path)
