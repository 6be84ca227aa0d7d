"""Pillow, kept behind one function: decode with shrink-on-load, resize, encode deterministically.

A JPEG is decoded with `draft()` (libjpeg's DCT scaling by 1/2, 1/4 or 1/8: a 12 MP photo for
a 256 px thumbnail decodes as 0.19 MP). domain/images.py checks the header before Pillow sees
the bytes; Pillow's own decompression-bomb guard is the backstop.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from domain.images import ABSOLUTE_MAX_PIXELS, ImageFormat, ImageHeader, ImageRejected, fit_within

# Deliberate: Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that. Our own limit
# (at most ABSOLUTE_MAX_PIXELS) is checked from the header first; this is the backstop for a
# header that lies, and the warning is made an error so it can never merely be logged.
Image.MAX_IMAGE_PIXELS = ABSOLUTE_MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)
# Never decode a truncated file into a half-grey image: a truncated upload is rejected.
Image.LOAD_TRUNCATED_IMAGES = False

JPEG_QUALITY = 85
WEBP_QUALITY = 80
_PILLOW_FORMAT = {ImageFormat.JPEG: "JPEG", ImageFormat.PNG: "PNG", ImageFormat.WEBP: "WEBP"}
_OUTPUT_MODES = {
    ImageFormat.JPEG: ("RGB", "L"),
    ImageFormat.PNG: ("RGB", "RGBA", "L", "LA"),
    ImageFormat.WEBP: ("RGB", "RGBA"),
}


@dataclass(frozen=True)
class Rendered:
    """An encoded thumbnail: the same source and size give the same bytes every time."""

    data: bytes
    width: int
    height: int
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def render(data: bytes, header: ImageHeader, size: int) -> Rendered:
    """Make one thumbnail whose longer side is `size` (never enlarged), in the source's format.

    `header` is what domain.images.read_header found in these bytes; a file whose decoder
    disagrees with it, or that is truncated or corrupt, raises ImageRejected.
    """
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[header.format]]) as image:
            if image.size != (header.width, header.height):
                raise ImageRejected(
                    f"corrupt {header.format}: the header says {header.width} x {header.height}, "
                    f"the decoder {image.size[0]} x {image.size[1]}"
                )
            # The box is square, so it fits the image whichever way EXIF turns it later.
            target = fit_within(header.width, header.height, size)
            if header.format is ImageFormat.JPEG:
                image.draft(None, target)  # keeps the mode; chooses the DCT scale
            image.load()
            oriented = ImageOps.exif_transpose(image)
            icc_profile = image.info.get("icc_profile")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"too large for the decoder: {error}") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # Pillow's words for truncated, corrupt or unreadable data ("image file is truncated").
        raise ImageRejected(f"corrupt {header.format}: {error}") from error
    return _encode(_resize(oriented, size, header.format), header.format, icc_profile)


def _resize(image: Image.Image, size: int, image_format: ImageFormat) -> Image.Image:
    if image.mode not in _OUTPUT_MODES[image_format]:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        wanted = "RGBA" if has_alpha and image_format is not ImageFormat.JPEG else "RGB"
        image = image.convert(wanted)
    width, height = fit_within(image.width, image.height, size)
    if (width, height) == image.size:
        return image
    # reducing_gap: a box reduction by whole factors first, then Lanczos over the last 3x;
    # the quality of Lanczos at a fraction of its cost on large sources (PNG, WebP).
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, image_format: ImageFormat, icc_profile: bytes | None) -> Rendered:
    out = io.BytesIO()
    # No EXIF, XMP or text chunks: they may hold the camera's GPS position; the colour profile
    # is kept so colours stay right. No timestamps anywhere, so the bytes are reproducible.
    options: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    if image_format is ImageFormat.JPEG:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False, **options)
    elif image_format is ImageFormat.PNG:
        image.save(out, "PNG", compress_level=6, **options)
    else:
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, exact=False, **options)
    return Rendered(out.getvalue(), image.width, image.height, image_format.content_type)
