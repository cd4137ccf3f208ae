"""Decoding uploads in memory: real digits in every format, and every kind of bad file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from digitwidgets.reading.images import MAX_UPLOAD_BYTES, ImageError, decode_image
from digitwidgets.reading.preprocessing import NOTHING_DRAWN, preprocess_digit
from tests.support import png_declaring as png_header_only


def encode(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture
def seven(digit_images):
    """A real 7, upscaled to 140x140 as a visitor's upload would be."""
    return np.asarray(Image.fromarray(digit_images[7]).resize((140, 140), Image.BICUBIC))


@pytest.fixture
def expected_seven(seven):
    return preprocess_digit(seven).image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_real_digit_in_each_format_decodes_to_the_same_digit(seven, expected_seven, fmt):
    decoded = decode_image(encode(Image.fromarray(seven), fmt))
    assert decoded.dtype == np.uint8 and decoded.shape == (140, 140)
    assert correlation(preprocess_digit(decoded).image, expected_seven) > 0.98


def test_dark_ink_on_white_rgb_jpeg(seven, expected_seven):
    rgb = Image.fromarray(255 - seven).convert("RGB")
    result = preprocess_digit(decode_image(encode(rgb, "JPEG", quality=70)))
    assert result.inverted
    assert correlation(result.image, expected_seven) > 0.97


def test_rgba_png_with_ink_only_in_alpha(seven, expected_seven):
    rgba = np.zeros((140, 140, 4), dtype=np.uint8)
    rgba[..., 3] = seven
    decoded = decode_image(encode(Image.fromarray(rgba), "PNG"))
    assert decoded.ndim == 2
    assert correlation(preprocess_digit(decoded).image, expected_seven) > 0.98


def test_palette_png(seven, expected_seven):
    palette = Image.fromarray(seven).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    decoded = decode_image(encode(palette, "PNG"))
    assert correlation(preprocess_digit(decoded).image, expected_seven) > 0.97


def test_sixteen_bit_grey_png(seven, expected_seven):
    wide = Image.fromarray(seven.astype(np.uint16) * 257)
    data = encode(wide, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    decoded = decode_image(data)
    assert decoded.dtype == np.uint8
    np.testing.assert_allclose(decoded, seven, atol=1)


def test_cmyk_jpeg(seven, expected_seven):
    cmyk = Image.fromarray(255 - seven).convert("RGB").convert("CMYK")
    decoded = decode_image(encode(cmyk, "JPEG"))
    assert decoded.shape == (140, 140)
    assert correlation(preprocess_digit(decoded).image, expected_seven) > 0.97


def test_animated_gif_gives_the_first_frame(digit_images):
    frames = [Image.fromarray(digit_images[d]).convert("P") for d in (1, 8)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    decoded = decode_image(data)
    assert correlation(decoded, digit_images[1]) > 0.99


def test_exif_orientation_is_applied(seven):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    stored = Image.fromarray(np.rot90(seven, k=1).copy())
    decoded = decode_image(encode(stored, "JPEG", exif=exif, quality=95))
    assert correlation(decoded, seven) > 0.98


def test_blank_white_image_decodes_but_has_nothing_drawn():
    decoded = decode_image(encode(Image.new("RGB", (200, 150), "white"), "PNG"))
    assert decoded.shape == (150, 200) and decoded.min() == 255
    assert preprocess_digit(decoded).message == NOTHING_DRAWN


def test_empty_file():
    with pytest.raises(ImageError, match="The file is empty"):
        decode_image(b"")


def test_file_over_the_limit_names_size_and_limit():
    with pytest.raises(ImageError, match=r"11\.0 MB.*10\.0 MB"):
        decode_image(b"\x89PNG" + bytes(11 * 2**20))
    assert MAX_UPLOAD_BYTES == 10 * 2**20


@pytest.mark.parametrize(
    "data",
    [
        b"Hello, this is a text file renamed to digit.png\n",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" '
        b'height="28"><circle cx="14" cy="14" r="8"/></svg>',
        b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",
    ],
    ids=["text", "svg", "pdf"],
)
def test_files_that_are_not_images(data):
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or BMP image"):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["TIFF", "WEBP", "ICO"])
def test_other_image_formats_are_refused(seven, fmt):
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or BMP image"):
        decode_image(encode(Image.fromarray(seven), fmt))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_truncated_files_are_damaged(seven, fmt):
    data = encode(Image.fromarray(seven), fmt)
    with pytest.raises(ImageError, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2])


@pytest.mark.parametrize("side", [20_000, 6_000])
def test_decompression_bombs_are_refused_before_decoding(side):
    data = png_header_only(side, side)
    assert len(data) < 100
    with pytest.raises(ImageError, match="too many pixels.*25 megapixels"):
        decode_image(data)


def test_a_bytearray_or_memoryview_is_accepted(seven):
    data = encode(Image.fromarray(seven), "PNG")
    assert decode_image(memoryview(data)).shape == decode_image(bytearray(data)).shape


def test_not_bytes_at_all():
    with pytest.raises(ImageError):
        decode_image("digit.png")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_decode_or_raise_image_error(data):
    try:
        decoded = decode_image(data)
    except ImageError as error:
        assert str(error)
    else:
        assert decoded.dtype == np.uint8 and decoded.ndim == 2


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_damaged_real_pngs_decode_or_raise_image_error(digit_images, data):
    original = bytearray(encode(Image.fromarray(digit_images[3]), "PNG"))
    for _ in range(data.draw(st.integers(1, 8))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_image(bytes(original))
    except ImageError as error:
        assert str(error)
    else:
        assert decoded.dtype == np.uint8 and decoded.ndim == 2
