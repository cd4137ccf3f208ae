"""Decode an uploaded picture in memory, refusing anything that is not a safe, small image.

Every failure becomes an `ImageError` whose message can be shown to a visitor as it is.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .preprocessing import grey_levels

MAX_UPLOAD_BYTES = 10 * 2**20
# A digit needs few pixels; more than this is a decompression bomb or a photograph by mistake.
MAX_IMAGE_PIXELS = 25_000_000
FORMATS = ("PNG", "JPEG", "GIF", "BMP")
# A digit needs few pixels, a phone's photo has 12 million: larger pictures come back with
# their longer side at most this. A JPEG is decoded straight at a half, a quarter or an
# eighth of its size (keeping at least half this), which is most of the time saved.
DECODED_SIDE = 1280
# Pillow's own decompression-bomb check runs in Image.open, before any pixel is decoded; its
# default (about 89 megapixels, refused only past twice that) is far too generous for a
# server decoding strangers' files, so it is set to this package's limit explicitly.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

_NOT_AN_IMAGE = "This file is not a PNG, JPEG, GIF or BMP image."
_DAMAGED = "This image is damaged or incomplete and cannot be read."


class ImageError(ValueError):
    """An upload that cannot be used; the message is fit to show to a visitor."""


def decode_image(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """Decode PNG, JPEG, GIF or BMP bytes to grey uint8 (height, width).

    Transparent pixels become the background, the EXIF orientation is applied, an animation
    gives its first frame and 16-bit grey is scaled to 8 bits. A picture larger than
    ``DECODED_SIDE`` on its longer side comes back reduced to it (a photo: the photo path
    reads it smaller still).

    Raises:
        ImageError: for empty, oversized, damaged or unsupported data, or too many pixels.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("The upload did not contain file data.")
    size = len(data)
    if size == 0:
        raise ImageError("The file is empty.")
    if size > max_bytes:
        raise ImageError(
            f"The file is {_describe_bytes(size)}; the limit is {_describe_bytes(max_bytes)}."
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns about moderately large images; here they are refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(bytes(data))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels()) from None
    except UnidentifiedImageError:
        raise ImageError(_NOT_AN_IMAGE) from None
    except Exception:
        # Pillow reports damaged files with many exception types (OSError, SyntaxError,
        # struct.error, IndexError ...); to a visitor they all mean the same.
        raise ImageError(_DAMAGED) from None


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data), formats=FORMATS) as picture:
        width, height = picture.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageError(_too_many_pixels(width, height))
        if width == 0 or height == 0:
            raise ImageError(_DAMAGED)
        picture.seek(0)
        if picture.format == "JPEG" and max(width, height) > DECODED_SIDE:
            # Decoded at a reduced scale, in grey where the file is colour: far less work.
            least = DECODED_SIDE // 2
            factor = least / max(width, height)
            picture.draft("L", (max(1, int(width * factor)), max(1, int(height * factor))))
        picture.load()
        picture = ImageOps.exif_transpose(picture)
        if max(picture.size) > DECODED_SIDE:
            picture.thumbnail((DECODED_SIDE, DECODED_SIDE), Image.Resampling.BOX)
        return _to_grey(picture)


def _to_grey(picture: Image.Image) -> np.ndarray:
    mode = picture.mode
    if mode.startswith("I;16") or mode == "I":
        # 16-bit grey (PNG opens it as I;16 or I): keep the top 8 bits' worth of contrast.
        wide = np.asarray(picture, dtype=np.float64)
        return np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)
    if mode == "F":
        return np.clip(np.rint(np.asarray(picture)), 0, 255).astype(np.uint8)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in picture.info
    if has_alpha:
        grey = grey_levels(np.asarray(picture.convert("RGBA")))
        return np.rint(grey * 255).astype(np.uint8)
    if mode != "L":
        picture = picture.convert("RGB").convert("L")
    return np.asarray(picture, dtype=np.uint8).copy()


def _too_many_pixels(width: int | None = None, height: int | None = None) -> str:
    measured = f" ({width:,} x {height:,})" if width is not None else ""
    return (
        f"This image has too many pixels{measured}; the limit is "
        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels."
    )


def _describe_bytes(count: int) -> str:
    if count >= 2**20:
        return f"{count / 2**20:.1f} MB"
    if count >= 2**10:
        return f"{count / 2**10:.0f} KB"
    return f"{count} bytes"
