"""The thumbnail rules with no storage: sniffing, header dimensions, limits, names, payloads."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import app_config
from adapters.images import render
from domain.images import (
    MAX_NAME_LENGTH,
    MAX_NAME_SEGMENTS,
    ImageFormat,
    ImageLimits,
    ImageRejected,
    check_name,
    fit_within,
    inspect,
    parse_sizes,
    read_header,
    sniff,
    thumbnail_instance_id,
    thumbnail_name,
)
from domain.job_updates import JOB_ID
from domain.payload import InvalidPayload, parse_request, read
from domain.thumbnails import (
    Outcome,
    SourceInfo,
    ThumbnailInfo,
    ThumbnailJob,
    ThumbnailRequest,
    ThumbnailResult,
)
from triggers.problem_details import pointer

HISTORIES = Path(__file__).resolve().parent.parent / "histories" / "make_thumbnails"


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


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("a//b.jpg", "path segments must not be empty"),
        ("/b.jpg", "path segments must not be empty"),
        ("a/../b.jpg", "'.' and '..' are not allowed"),
        ("a\\b.jpg", "backslashes are not allowed"),
        ("a/\x07b.jpg", "control characters"),
        ("a/b.jpg.", "a blob name must not end with '.'"),
    ],
)
def test_an_upload_that_came_another_way_meets_the_apis_name_rules(name: str, rule: str) -> None:
    """The blob trigger's uploads get POST /api/jobs/thumbnail's name rules (UploadName)."""
    with pytest.raises(ImageRejected, match=re.escape(f"the blob name is not allowed: {rule}")):
        check_name(name, ImageFormat.JPEG)


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
    assert parse_sizes(("512", "128", "256", "128"), "SIZES") == (128, 256, 512)
    for bad in ((), ("0",), ("12",), ("5000",), ("abc",), ("128", "-1")):
        with pytest.raises(ValueError, match="SIZES: "):
            parse_sizes(bad, "SIZES")


def test_settings_are_read_and_checked_in_app_config() -> None:
    assert app_config.thumbnail_sizes({}) == (128, 256, 512)
    assert app_config.thumbnail_sizes({"THUMBNAIL_SIZES": "64, 32"}) == (32, 64)
    assert app_config.thumbnail_sizes({"THUMBNAIL_SIZES": "64;32"}) == (32, 64)  # as every list
    assert app_config.thumbnail_limits({"THUMBNAIL_MAX_PIXELS": "1000"}).max_pixels == 1000
    for bad in ("big", ","):
        with pytest.raises(ValueError, match="THUMBNAIL_SIZES"):
            app_config.thumbnail_sizes({"THUMBNAIL_SIZES": bad})
    with pytest.raises(ValueError, match="THUMBNAIL_MAX_BYTES"):
        app_config.thumbnail_limits({"THUMBNAIL_MAX_BYTES": "-5"})
    with pytest.raises(
        ValueError, match="THUMBNAIL_MAX_PIXELS: Input should be less than or equal to 100000000"
    ):
        app_config.thumbnail_limits({"THUMBNAIL_MAX_PIXELS": "200000000"})


def test_payloads_round_trip_through_json() -> None:
    limits = ImageLimits(max_bytes=10, max_pixels=20, max_side=30)
    job = ThumbnailJob(
        name="a/cat.jpg", etag='"0x1"', sizes=(128, 256), limits=limits, correlation_id="corr-1"
    )
    assert read(ThumbnailJob, json.loads(json.dumps(job.dump()))) == job
    source = SourceInfo(
        outcome=Outcome.VALID, format=ImageFormat.JPEG, width=40, height=30, bytes=999
    )
    thumb = ThumbnailInfo(
        outcome=Outcome.WRITTEN,
        size=128,
        blob="128/a/cat.jpg",
        width=40,
        height=30,
        content_type="image/jpeg",
        bytes=5,
        sha256="ab",
    )
    result = ThumbnailResult(
        blob="a/cat.jpg",
        etag='"0x1"',
        status=Outcome.COMPLETED,
        source=source,
        thumbnails=(thumb,),
    )
    assert read(ThumbnailResult, json.loads(json.dumps(result.dump()))) == result
    # Absent values are written as null, as the recorded histories hold them.
    assert result.dump()["reason"] is None and result.dump()["source"]["reason"] is None
    assert list(result.dump()) == ["blob", "etag", "status", "reason", "source", "thumbnails"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"sizes": [128, 1]}, "sizes[1]"),
        ({"sizes": []}, "sizes"),
        ({"sizes": list(range(100, 109))}, "sizes"),
        ({"limits": {"max_bytes": 0}}, "limits.max_bytes"),
        ({"limits": {"max_pixels": 200_000_000}}, "limits.max_pixels"),
        ({"name": ""}, "name"),
        ({"etag": "x" * 201}, "etag"),
    ],
)
def test_a_job_input_that_can_never_run_names_its_field(change: dict[str, Any], path: str) -> None:
    job = {"name": "a/cat.jpg", "etag": '"0x1"', "sizes": [128], "correlation_id": "c"}
    with pytest.raises(InvalidPayload) as raised:
        read(ThumbnailJob, {**job, **change})
    assert [p.split(":", 1)[0] for p in raised.value.problems] == [path]


def test_recorded_payloads_still_read_and_write_the_same_json() -> None:
    """The histories' inputs and results, an unknown member added and defaulted ones left out."""
    recorded = json.loads(json.loads((HISTORIES / "completed.json").read_text())["input"])
    job = read(ThumbnailJob, {**recorded, "added_later": {"x": 1}})
    assert job.dump() == recorded
    older = {k: v for k, v in recorded.items() if k not in ("limits", "correlation_id")}
    assert read(ThumbnailJob, older).limits == ImageLimits()
    assert read(ThumbnailJob, older).dump()["correlation_id"] is None
    # A stub's result leaves out what it does not know; the recorded outputs hold every key.
    source = read(SourceInfo, {"outcome": "valid", "format": "JPEG", "width": 4, "extra": 1})
    assert (source.reason, source.format, source.bytes) == (None, ImageFormat.JPEG, None)
    for path in sorted(HISTORIES.glob("*.json")):
        output = json.loads(path.read_text())["output"]
        assert read(ThumbnailResult, output).dump() == output, path.name


def test_the_job_api_request_is_only_a_blob_name() -> None:
    assert parse_request(ThumbnailRequest, b'{"blob": "a/cat.jpg"}').blob == "a/cat.jpg"
    for raw, path in (
        (b"[]", None),
        (b"{}", "#/blob"),
        (b'{"blob": ""}', "#/blob"),
        (b'{"blob": "x.jpg", "size": 5}', "#/size"),
    ):
        with pytest.raises(InvalidPayload) as refused:
            parse_request(ThumbnailRequest, raw)
        assert [pointer(p) for p in refused.value.problems] == [path], raw


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("cats/cat.jpg", None),
        ("é/ü 1.jpg", None),
        ("😀.png", None),
        ("a.b/c.webp", None),
        ("a.b/..c/x.jpg", None),
        ("x" * MAX_NAME_LENGTH, None),
        ("/".join(["a"] * MAX_NAME_SEGMENTS), None),
        ("", "at least 1 character"),
        ("   ", "white space"),
        ("x" * (MAX_NAME_LENGTH + 1), "at most 1000 characters"),
        ("../x.jpg", "'.' and '..'"),
        ("a/../../reports/x.json", "'.' and '..'"),
        ("./x.jpg", "'.' and '..'"),
        ("a/..", "'.' and '..'"),
        ("/x.jpg", "must not be empty"),
        ("a//x.jpg", "must not be empty"),
        ("a/", "must not be empty"),
        ("x.jpg.", "must not end with '.'"),
        ("a\\..\\x.jpg", "backslashes"),
        ("x\x00.jpg", "control characters"),
        ("x\n.jpg", "control characters"),
        ("x\x81.jpg", "control characters"),
        ("x\ue000.jpg", "non-characters"),
        ("x\ufffe.jpg", "non-characters"),
        ("x\U0010ffff.jpg", "non-characters"),
        ("/".join(["a"] * (MAX_NAME_SEGMENTS + 1)), f"at most {MAX_NAME_SEGMENTS} path segments"),
    ],
)
def test_upload_names_follow_the_blob_naming_rules(name: str, problem: str | None) -> None:
    """Checked before storage is asked: a 400 naming #/blob, never a 500 or another blob."""
    raw = json.dumps({"blob": name})
    if problem is None:
        assert parse_request(ThumbnailRequest, raw).blob == name
        return
    with pytest.raises(InvalidPayload) as refused:
        parse_request(ThumbnailRequest, raw)
    [found] = refused.value.problems
    assert pointer(found) == "#/blob" and problem in found
    assert not name.strip() or name not in found  # the name is never quoted


@pytest.mark.parametrize(
    "value", [{"k": "v"}, ["x"], 1.5, 7, True, None, 10**30], ids=lambda v: type(v).__name__
)
def test_a_blob_name_of_any_other_json_type_is_a_problem_for_it(value: Any) -> None:
    with pytest.raises(InvalidPayload) as refused:
        parse_request(ThumbnailRequest, json.dumps({"blob": value}))
    assert [pointer(p) for p in refused.value.problems] == ["#/blob"]


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
