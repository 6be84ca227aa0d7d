"""What an upload must be before any decoder sees it: its type from magic bytes, its size limits."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from domain.payload import WHOLE, Model

# Above this even the setting cannot go: the decoder's own backstop (adapters/images.py) is
# set from it, and a decoded 100 MP RGBA image already takes 400 MB.
ABSOLUTE_MAX_PIXELS = 100_000_000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_SIDE = 16_384
# Blob names are at most 1024 characters; "<size>/" is prepended for the thumbnail.
MAX_NAME_LENGTH = 1000
# Blob names have at most 254 path segments; the thumbnail's "<size>/" is one more.
MAX_NAME_SEGMENTS = 253
# Not in a blob name (Learn, "Naming and Referencing Containers, Blobs, and Metadata"): control
# characters, and code points that are not Unicode characters (surrogates, private use such as
# U+E000, noncharacters such as U+FFFE in every plane).
_NONCHARACTERS = "".join(chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF))
_NOT_IN_BLOB_NAMES = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufdd0-\ufdef" + _NONCHARACTERS + "]"
)
MIN_THUMBNAIL_SIZE = 16
THUMBNAIL_ID_PREFIX = "thumb-"
MAX_THUMBNAIL_SIZE = 4096
DEFAULT_THUMBNAIL_SIZES = (128, 256, 512)


class ImageFormat(StrEnum):
    """The formats thumbnails are made of; each thumbnail keeps its source's format."""

    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WEBP"

    @property
    def content_type(self) -> str:
        return f"image/{self.lower()}"

    @property
    def extensions(self) -> tuple[str, ...]:
        return _EXTENSIONS[self]


_EXTENSIONS = {
    ImageFormat.JPEG: (".jpg", ".jpeg"),
    ImageFormat.PNG: (".png",),
    ImageFormat.WEBP: (".webp",),
}

# Recognised, so that the reason can name them, but not made into thumbnails.
_OTHER_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"%PDF-", "PDF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypavif", "AVIF"),
    (0, b"PK\x03\x04", "ZIP"),
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (SOF0-SOF15 except DHT, JPG and DAC, which share the range).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


class ImageRejected(ValueError):
    """The upload can never become a thumbnail; `reason` says why, for the job's status."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImageLimits(Model):
    """The most an upload may be: bytes stored, pixels claimed, and either side's length."""

    max_bytes: Annotated[int, Field(ge=1, description="Bytes stored."), WHOLE] = DEFAULT_MAX_BYTES
    max_pixels: Annotated[
        int,
        Field(ge=1, le=ABSOLUTE_MAX_PIXELS, description="Width times height, as the header says."),
        WHOLE,
    ] = DEFAULT_MAX_PIXELS
    max_side: Annotated[int, Field(ge=1, description="Pixels on either side."), WHOLE] = (
        DEFAULT_MAX_SIDE
    )


@dataclass(frozen=True)
class ImageHeader:
    """What the file says about itself, before decoding."""

    format: ImageFormat
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff(data: bytes) -> ImageFormat:
    """The format the magic bytes say; ImageRejected naming what it is when not supported."""
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(_PNG_SIGNATURE):
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    for offset, signature, name in _OTHER_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            raise ImageRejected(f"unsupported image type {name}; JPEG, PNG and WebP are")
    if not data:
        raise ImageRejected("the upload is empty")
    raise ImageRejected("not an image: the content has no JPEG, PNG or WebP signature")


def read_header(data: bytes) -> ImageHeader:
    """The format and the dimensions the header claims; ImageRejected if it has none."""
    image_format = sniff(data)
    if image_format is ImageFormat.JPEG:
        width, height = _jpeg_size(data)
    elif image_format is ImageFormat.PNG:
        width, height = _png_size(data)
    else:
        width, height = _webp_size(data)
    if width < 1 or height < 1:
        raise ImageRejected(f"corrupt {image_format} header: {width} x {height} pixels")
    return ImageHeader(image_format, width, height)


def check_size(size_bytes: int, limits: ImageLimits) -> None:
    """Refuse an upload by its stored size, before downloading it."""
    if size_bytes > limits.max_bytes:
        raise ImageRejected(f"too large: {size_bytes} bytes, the limit is {limits.max_bytes}")
    if size_bytes == 0:
        raise ImageRejected("the upload is empty")


def check_header(header: ImageHeader, limits: ImageLimits) -> None:
    """Refuse a decompression bomb by what its header claims, before decoding anything."""
    if header.width > limits.max_side or header.height > limits.max_side:
        raise ImageRejected(
            f"too large: {header.width} x {header.height} pixels, "
            f"the limit is {limits.max_side} on either side"
        )
    if header.pixels > limits.max_pixels:
        raise ImageRejected(
            f"too large: {header.width} x {header.height} = {header.pixels} pixels, "
            f"the limit is {limits.max_pixels}"
        )


def check_name(name: str, image_format: ImageFormat) -> None:
    """The name must be one an upload may have (check_upload_name: the rules POST
    /api/jobs/thumbnail applies, here for uploads that came another way), and its extension
    must agree with the content, so a thumbnail's name never lies."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ImageRejected(f"the blob name must have 1 to {MAX_NAME_LENGTH} characters")
    try:
        check_upload_name(name)
    except ValueError as refused:
        raise ImageRejected(f"the blob name is not allowed: {refused}") from None
    leaf = name.rsplit("/", 1)[-1]  # a dot in a folder name is not an extension
    extension = "." + leaf.rsplit(".", 1)[-1].lower() if "." in leaf else ""
    if extension not in image_format.extensions:
        expected = " or ".join(image_format.extensions)
        shown = extension or "no extension"
        raise ImageRejected(
            f"the name's {shown} does not match the content ({image_format}: {expected})"
        )


def inspect(name: str, data: bytes, limits: ImageLimits) -> ImageHeader:
    """Every check that needs no decoder, in order: bytes, type, name, dimensions."""
    check_size(len(data), limits)
    header = read_header(data)
    check_name(name, header.format)
    check_header(header, limits)
    return header


def fit_within(width: int, height: int, size: int) -> tuple[int, int]:
    """The thumbnail's dimensions: the longer side becomes `size`, the aspect ratio is kept,
    and an image already small enough keeps its own size (never enlarged)."""
    if width <= size and height <= size:
        return width, height
    if width >= height:
        return size, max(1, round(height * size / width))
    return max(1, round(width * size / height)), size


def check_upload_name(name: str) -> str:
    """`name` if it can be an upload's blob name; ValueError naming the rule it breaks.

    Azure's rules (1 to 1,024 characters, at most 254 path segments, no control characters or
    non-characters), kept within what a thumbnail name adds, and what URLs do to a path:
    clients and servers resolve "." and ".." segments and may read a backslash as "/", so
    such a name would reach another blob or container; empty segments and a trailing "." are
    names Azure advises against, which some clients rewrite. The length is UploadName's.
    """
    if not name.strip():
        raise ValueError("the name must not be only white space")
    if _NOT_IN_BLOB_NAMES.search(name):
        raise ValueError("control characters and non-characters (such as U+E000) are not allowed")
    if "\\" in name:
        raise ValueError("backslashes are not allowed (URLs may read them as /)")
    segments = name.split("/")
    if "" in segments:
        raise ValueError("path segments must not be empty (no leading, trailing or double /)")
    if "." in segments or ".." in segments:
        raise ValueError("'.' and '..' are not allowed as path segments")
    if name.endswith("."):
        raise ValueError("a blob name must not end with '.'")
    if len(segments) > MAX_NAME_SEGMENTS:
        raise ValueError(f"at most {MAX_NAME_SEGMENTS} path segments")
    return name


# The rules above in JSON Schema, for the document and for clients that generate names from
# it: a segment is what the character class allows, `allOf` asks for more than white space and
# `not` refuses `.` and `..` segments and a trailing `.` (non-characters beyond the BMP, which
# the class does not list, are still refused by check_upload_name).
_SEGMENT = r"[^\x00-\x1f\x7f-\x9f\\/\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff]+"
UPLOAD_NAME_SCHEMA = {
    "pattern": f"^{_SEGMENT}(?:/{_SEGMENT}){{0,{MAX_NAME_SEGMENTS - 1}}}$",
    "allOf": [{"pattern": r"[^\s\x1c-\x1f\x85\ufeff]"}],
    "not": {"pattern": r"(?:^|/)\.\.?/|\.$"},
}

# An upload's name as a caller gives it, checked before storage is asked: a name such as "../x"
# would reach another container.
UploadName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        json_schema_extra=UPLOAD_NAME_SCHEMA,
        description=(
            "The upload's name in the uploads container: not only white space; at most "
            f"{MAX_NAME_SEGMENTS} non-empty path segments, none of them `.` or `..` (such as "
            "../x.jpg), not ending with `.`; no backslash, control character (U+0000-U+001F, "
            "U+007F-U+009F), private-use character (U+E000-U+F8FF) or non-character "
            "(U+FDD0-U+FDEF, U+FFFE, U+FFFF, and the last two of every other plane, which the "
            "pattern does not list). A name with no upload is answered 404."
        ),
    ),
    AfterValidator(check_upload_name),
]


def thumbnail_name(size: int, name: str) -> str:
    """`<size>/<name>` in the thumbnails container: the same name for every run."""
    return f"{size}/{name}"


def parse_sizes(entries: Iterable[str], setting: str) -> tuple[int, ...]:
    """Sizes as a list setting holds them ("512", "128", "256") → (128, 256, 512): sorted,
    distinct, each within the allowed range; ValueError naming the setting otherwise."""
    sizes: set[int] = set()
    for entry in entries:
        if not entry.isdigit() or not MIN_THUMBNAIL_SIZE <= int(entry) <= MAX_THUMBNAIL_SIZE:
            raise ValueError(
                f"{setting}: thumbnail size {entry!r} is not a whole number of pixels "
                f"from {MIN_THUMBNAIL_SIZE} to {MAX_THUMBNAIL_SIZE}"
            )
        sizes.add(int(entry))
    if not sizes:
        raise ValueError(f"{setting}: at least one thumbnail size is needed")
    return tuple(sorted(sizes))


def thumbnail_instance_id(name: str, etag: str) -> str:
    """One orchestration per upload version: a redelivered event for the same ETag finds it.

    Hashed because blob names may hold characters instance ids may not, and may be long.
    """
    digest = hashlib.sha256(f"{name}\n{etag}".encode()).hexdigest()
    return f"{THUMBNAIL_ID_PREFIX}{digest[:40]}"


def _u16be(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ImageRejected("corrupt JPEG: a marker was expected")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data with no frame header before it
            break
        length = _u16be(data, at + 2)
        if length < 2:
            raise ImageRejected("corrupt JPEG: a segment length is invalid")
        if marker in _JPEG_SOF:
            if at + 9 > len(data):
                break
            return _u16be(data, at + 7), _u16be(data, at + 5)
        at += 2 + length
    raise ImageRejected("corrupt JPEG: no frame header with the image's dimensions")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageRejected("corrupt PNG: no IHDR header")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8X" and len(body) >= 10:
        width = int.from_bytes(body[4:7], "little") + 1
        return width, int.from_bytes(body[7:10], "little") + 1
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(body[6:8], "little") & 0x3FFF,
            int.from_bytes(body[8:10], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise ImageRejected("corrupt WebP: no VP8, VP8L or VP8X header")
