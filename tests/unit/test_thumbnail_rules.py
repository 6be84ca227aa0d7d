"""The thumbnail rules with no storage: sniffing, header dimensions, limits, names, payloads."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

import app_config
from adapters.images import render
from domain.images import (
    ImageFormat,
    ImageLimits,
    ImageRejected,
    fit_within,
    inspect,
    parse_sizes,
    read_header,
    sniff,
    thumbnail_instance_id,
    thumbnail_name,
)
from domain.job_updates import JOB_ID
from domain.order_payloads import InvalidPayload
from domain.thumbnails import (
    JobResult,
    Outcome,
    SourceInfo,
    ThumbnailInfo,
    ThumbnailJob,
)


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **options: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, fmt, **options)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims these dimensions, with a CRC that is right."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(chunk[4:]))


@pytest.mark.parametrize(
    ("fmt", "expected", "mode"),
    [
        ("JPEG", ImageFormat.JPEG, "RGB"),
        ("JPEG", ImageFormat.JPEG, "CMYK"),
        ("PNG", ImageFormat.PNG, "RGBA"),
        ("WEBP", ImageFormat.WEBP, "RGB"),
        ("WEBP", ImageFormat.WEBP, "RGBA"),
    ],
)
def test_the_header_gives_format_and_dimensions_before_any_decoding(
    fmt: str, expected: ImageFormat, mode: str
) -> None:
    data = encoded(fmt, (321, 123), mode)
    header = read_header(data)
    assert (header.format, header.width, header.height) == (expected, 321, 123)


def test_lossless_webp_header_is_read_too() -> None:
    header = read_header(encoded("WEBP", (77, 55), lossless=True))
    assert (header.width, header.height) == (77, 55)


def test_a_progressive_jpeg_with_exif_has_its_frame_header_found() -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 5000  # a long APP1 segment before the frame header
    out = io.BytesIO()
    Image.new("RGB", (640, 480)).save(out, "JPEG", progressive=True, exif=exif)
    assert read_header(out.getvalue()).width == 640


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, this is text", "not an image"),
        (b"GIF89a" + b"\0" * 20, "unsupported image type GIF"),
        (b"%PDF-1.7 ...", "unsupported image type PDF"),
        (b"\x00\x00\x00\x1cftypheic" + b"\0" * 20, "unsupported image type HEIC"),
    ],
)
def test_sniffing_names_what_it_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        sniff(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # cut before any frame header
        b"\x89PNG\r\n\x1a\n\x00\x00",  # cut inside the IHDR
        b"RIFF\x10\x00\x00\x00WEBPVP8 ",  # no frame
        png_claiming(0, 10),
    ],
)
def test_truncated_or_empty_headers_are_corrupt(data: bytes) -> None:
    with pytest.raises(ImageRejected, match="corrupt"):
        read_header(data)


def test_limits_refuse_a_bomb_by_its_header_and_big_uploads_by_their_bytes() -> None:
    limits = ImageLimits(max_bytes=10_000, max_pixels=1_000_000, max_side=2_000)
    with pytest.raises(ImageRejected, match=r"50000 x 50000 pixels, the limit is 2000"):
        inspect("bomb.png", png_claiming(50_000, 50_000), limits)
    with pytest.raises(ImageRejected, match=r"1500 x 1500 = 2250000 pixels, the limit is 1000000"):
        inspect("wide.png", png_claiming(1_500, 1_500), limits)
    with pytest.raises(ImageRejected, match=r"too large: 10001 bytes, the limit is 10000"):
        small = png_claiming(10, 10)
        inspect("big.png", small + b"\0" * (10_001 - len(small)), limits)
    assert inspect("ok.png", png_claiming(1_000, 1_000), limits).pixels == 1_000_000


@pytest.mark.parametrize(
    ("name", "fmt", "ok"),
    [
        ("cat.jpg", "JPEG", True),
        ("a/b/Cat.JPEG", "JPEG", True),
        ("cat.png", "PNG", True),
        ("cat.webp", "WEBP", True),
        ("cat.png", "JPEG", False),
        ("cat.jpg.exe", "JPEG", False),
        ("cat", "JPEG", False),
        ("dir.jpg/cat", "JPEG", False),
    ],
)
def test_the_name_must_agree_with_the_content(name: str, fmt: str, ok: bool) -> None:
    data = encoded(fmt, (20, 20))
    if ok:
        assert inspect(name, data, ImageLimits()).format == ImageFormat(fmt)
    else:
        with pytest.raises(ImageRejected, match="does not match the content"):
            inspect(name, data, ImageLimits())


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((4000, 3000), 256, (256, 192)),
        ((3000, 4000), 256, (192, 256)),
        ((1000, 1000), 128, (128, 128)),
        ((5000, 10), 512, (512, 1)),
        ((100, 50), 512, (100, 50)),  # never enlarged
        ((333, 333), 333, (333, 333)),
    ],
)
def test_fit_within_keeps_the_aspect_ratio(
    size: tuple[int, int], box: int, expected: tuple[int, int]
) -> None:
    assert fit_within(*size, box) == expected


def test_names_ids_and_sizes_are_deterministic() -> None:
    assert thumbnail_name(256, "a/cat.jpg") == "256/a/cat.jpg"
    first = thumbnail_instance_id("cat.jpg", '"0x1"')
    assert first == thumbnail_instance_id("cat.jpg", '"0x1"')
    assert first != thumbnail_instance_id("cat.jpg", '"0x2"')
    assert first != thumbnail_instance_id("dog.jpg", '"0x1"')
    assert JOB_ID.match(first) and first.startswith("thumb-") and len(first) == 46
    assert JOB_ID.match(thumbnail_instance_id("ünïcödé ☃/" + "x" * 900, '"0x1"'))
    assert parse_sizes(" 512,128,256,128 ") == (128, 256, 512)
    for bad in ("", "0", "12", "5000", "abc", "128,-1"):
        with pytest.raises(ValueError):
            parse_sizes(bad)


def test_settings_are_read_and_checked_in_app_config() -> None:
    assert app_config.thumbnail_sizes({}) == (128, 256, 512)
    assert app_config.thumbnail_sizes({"THUMBNAIL_SIZES": "64, 32"}) == (32, 64)
    assert app_config.thumbnail_limits({"THUMBNAIL_MAX_PIXELS": "1000"})["max_pixels"] == 1000
    with pytest.raises(ValueError, match="THUMBNAIL_SIZES"):
        app_config.thumbnail_sizes({"THUMBNAIL_SIZES": "big"})
    with pytest.raises(ValueError, match="THUMBNAIL_MAX_BYTES"):
        app_config.thumbnail_limits({"THUMBNAIL_MAX_BYTES": "-5"})
    with pytest.raises(ValueError, match="at most 100000000"):
        app_config.thumbnail_limits({"THUMBNAIL_MAX_PIXELS": "200000000"})


def test_payloads_round_trip_through_json() -> None:
    job = ThumbnailJob("a/cat.jpg", '"0x1"', (128, 256), ImageLimits(10, 20, 30), "corr-1")
    assert ThumbnailJob.from_dict(job.to_dict()) == job
    source = SourceInfo(Outcome.VALID, None, ImageFormat.JPEG, 40, 30, 999)
    thumb = ThumbnailInfo(Outcome.WRITTEN, 128, "128/a/cat.jpg", 40, 30, "image/jpeg", 5, "ab")
    result = JobResult("a/cat.jpg", '"0x1"', Outcome.COMPLETED, None, source, (thumb,))
    assert JobResult.from_dict(result.to_dict()) == result
    with pytest.raises(InvalidPayload, match="size"):
        ThumbnailJob.from_dict({**job.to_dict(), "sizes": [128, 1]})
    with pytest.raises(InvalidPayload, match="limits"):
        ThumbnailJob.from_dict({**job.to_dict(), "limits": {"max_bytes": 0}})


def test_render_gives_exact_sizes_content_types_and_the_same_bytes_each_time() -> None:
    data = encoded("JPEG", (1200, 900), quality=90)
    header = read_header(data)
    first = render(data, header, 256)
    assert (first.width, first.height, first.content_type) == (256, 192, "image/jpeg")
    assert render(data, header, 256).data == first.data
    assert Image.open(io.BytesIO(first.data)).size == (256, 192)
    png = encoded("PNG", (300, 600), "RGBA")
    thumb = render(png, read_header(png), 128)
    assert (thumb.width, thumb.height, thumb.content_type) == (64, 128, "image/png")
    assert Image.open(io.BytesIO(thumb.data)).mode == "RGBA"


def test_render_applies_exif_orientation_and_drops_the_exif() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    exif[0x8825] = {1: "N"}  # a GPS block, which must not reach the thumbnail
    out = io.BytesIO()
    Image.new("RGB", (400, 200)).save(out, "JPEG", exif=exif)
    thumb = render(out.getvalue(), read_header(out.getvalue()), 100)
    assert (thumb.width, thumb.height) == (50, 100)
    assert not Image.open(io.BytesIO(thumb.data)).getexif()


def test_render_rejects_truncated_and_lying_files() -> None:
    data = encoded("JPEG", (800, 600), quality=95)
    header = read_header(data)
    with pytest.raises(ImageRejected, match="corrupt JPEG"):
        render(data[: len(data) // 2], header, 128)
    lying = read_header(encoded("JPEG", (900, 600)))
    with pytest.raises(ImageRejected, match="header says 900 x 600"):
        render(data, lying, 128)
