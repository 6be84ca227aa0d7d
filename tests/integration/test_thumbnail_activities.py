"""The thumbnail activities against Azurite: validation outcomes and idempotent, safe writes."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from azure.storage.blob import BlobServiceClient
from PIL import Image

from activities.thumbnails import make_thumbnail, validate_upload
from adapters.factory import build_thumbnail_store
from adapters.thumbnail_store import ThumbnailStore
from app_config import StorageConnection
from devhost.azurite import Azurite
from domain.images import ImageLimits

LIMITS = ImageLimits(max_bytes=2_000_000, max_pixels=4_000_000, max_side=4_000)


class Crash(Exception):
    """The process dying right after the thumbnail was written."""


@dataclass
class Faults:
    armed: set[str] = field(default_factory=set)

    def __call__(self, point: str) -> None:
        if point in self.armed:
            self.armed.discard(point)
            raise Crash(point)


@dataclass
class Shelf:
    store: ThumbnailStore
    service: BlobServiceClient
    uploads: str
    thumbnails: str
    faults: Faults

    def upload(self, name: str, data: bytes) -> str:
        blob = self.service.get_blob_client(self.uploads, name)
        blob.upload_blob(data, overwrite=True)
        return str(blob.get_blob_properties().etag)

    def thumbnail(self, blob: str) -> tuple[bytes, str, str, dict[str, str]]:
        client = self.service.get_blob_client(self.thumbnails, blob)
        props = client.get_blob_properties()
        data = client.download_blob().readall()
        return data, str(props.etag), props.content_settings.content_type, props.metadata

    def resize(self, name: str, etag: str, size: int) -> dict:
        payload = {"name": name, "etag": etag, "limits": LIMITS.dump(), "size": size}
        return make_thumbnail(payload, self.store)

    def validate(self, name: str, etag: str) -> dict:
        payload = {"name": name, "etag": etag, "limits": LIMITS.dump(), "smallest_size": 128}
        return validate_upload(payload, self.store)


@pytest.fixture
def shelf(azurite: Azurite) -> Shelf:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    suffix = uuid.uuid4().hex[:10]
    faults = Faults()
    connection = StorageConnection(connection_string=azurite.connection_string)
    store = build_thumbnail_store(connection, f"up-{suffix}", f"th-{suffix}", fault=faults)
    return Shelf(store, service, f"up-{suffix}", f"th-{suffix}", faults)


def jpeg(size: tuple[int, int] = (1600, 1200), color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(chunk[4:]))


def test_validation_reports_the_source_and_refuses_hostile_uploads(shelf: Shelf) -> None:
    etag = shelf.upload("cat.jpg", jpeg())
    valid = shelf.validate("cat.jpg", etag)
    assert valid == {
        "outcome": "valid",
        "reason": None,
        "format": "JPEG",
        "width": 1600,
        "height": 1200,
        "bytes": len(jpeg()),
    }
    hostile = {
        "truncated.jpg": (jpeg()[:3000], "corrupt JPEG"),
        "bomb.png": (png_claiming(50_000, 50_000), "too large: 50000 x 50000 pixels"),
        "photo.png": (jpeg((64, 64)), "the name's .png does not match the content (JPEG"),
        "notes.jpg": (b"just some text, not a picture", "not an image"),
        "huge.jpg": (b"\xff\xd8\xff" + b"\0" * 2_000_001, "too large: 2000004 bytes"),
    }
    for name, (data, reason) in hostile.items():
        outcome = shelf.validate(name, shelf.upload(name, data))
        assert outcome["outcome"] == "rejected", name
        assert reason in outcome["reason"], (name, outcome["reason"])


def test_a_version_that_is_gone_is_superseded_not_an_error(shelf: Shelf) -> None:
    old = shelf.upload("cat.jpg", jpeg(color="red"))
    shelf.upload("cat.jpg", jpeg(color="blue"))
    assert shelf.validate("cat.jpg", old)["outcome"] == "superseded"
    assert shelf.resize("cat.jpg", old, 128)["outcome"] == "superseded"
    assert shelf.validate("gone.jpg", '"0x8D0000000000000"')["outcome"] == "superseded"


def test_twice_in_sequence_writes_once(shelf: Shelf) -> None:
    etag = shelf.upload("a/cat.jpg", jpeg())
    first = shelf.resize("a/cat.jpg", etag, 256)
    data, blob_etag, content_type, metadata = shelf.thumbnail("256/a/cat.jpg")
    assert first["outcome"] == "written"
    assert (first["width"], first["height"], first["content_type"]) == (256, 192, "image/jpeg")
    assert content_type == "image/jpeg" and metadata["source_etag"] == etag
    assert Image.open(io.BytesIO(data)).size == (256, 192)
    second = shelf.resize("a/cat.jpg", etag, 256)
    assert second == {**first, "outcome": "unchanged"}
    assert shelf.thumbnail("256/a/cat.jpg")[:2] == (data, blob_etag)  # not written again


def test_twice_concurrently_writes_once(shelf: Shelf) -> None:
    etag = shelf.upload("cat.jpg", jpeg())
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: shelf.resize("cat.jpg", etag, 128), range(4)))
    assert sorted(o["outcome"] for o in outcomes) == [
        "unchanged",
        "unchanged",
        "unchanged",
        "written",
    ]
    assert len({o["sha256"] for o in outcomes}) == 1


def test_a_crash_after_the_write_is_repaired_by_the_retry(shelf: Shelf) -> None:
    etag = shelf.upload("cat.jpg", jpeg())
    shelf.faults.armed.add("thumbnails.written")
    with pytest.raises(Crash):
        shelf.resize("cat.jpg", etag, 512)
    written, blob_etag, _, _ = shelf.thumbnail("512/cat.jpg")
    retried = shelf.resize("cat.jpg", etag, 512)
    assert retried["outcome"] == "unchanged" and (retried["width"], retried["height"]) == (512, 384)
    assert shelf.thumbnail("512/cat.jpg")[:2] == (written, blob_etag)


def test_an_old_version_never_overwrites_a_newer_versions_thumbnail(shelf: Shelf) -> None:
    old = shelf.upload("cat.jpg", jpeg(color="red"))
    assert shelf.resize("cat.jpg", old, 128)["outcome"] == "written"
    new = shelf.upload("cat.jpg", jpeg(color="blue"))
    assert shelf.resize("cat.jpg", new, 128)["outcome"] == "written"
    newest = shelf.thumbnail("128/cat.jpg")
    assert shelf.resize("cat.jpg", old, 128)["outcome"] == "superseded"  # a late retry
    assert shelf.thumbnail("128/cat.jpg") == newest
    assert newest[3]["source_etag"] == new


def test_bad_input_is_a_permanent_failure(shelf: Shelf) -> None:
    with pytest.raises(Exception, match=r"\[permanent\] invalid make_thumbnail input: size"):
        make_thumbnail(
            {"name": "cat.jpg", "etag": "x", "limits": LIMITS.dump(), "size": 3}, shelf.store
        )


def test_a_name_too_long_for_its_thumbnails_is_rejected_with_the_reason(shelf: Shelf) -> None:
    """Storage allows 1,024 characters; `<size>/` must fit too. The trigger starts the job (its
    input takes any name storage gave) and validation ends it with the reason."""
    name = "x" * 1010 + ".jpg"
    outcome = shelf.validate(name, shelf.upload(name, jpeg((64, 64))))
    assert outcome["outcome"] == "rejected"
    assert "1 to 1000 characters" in outcome["reason"]
