"""Property-based tests: whatever arrays, strokes or files come in, only documented results
or errors come out.

Random bytes and damaged PNGs into ``decode_image``, and image-like arrays into
``preprocess_digit``, are in test_images.py and test_preprocessing.py; these add arrays of
any shape and dtype, real images of every Pillow mode and size, and stroke lists through
rasterizing and recognition.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from digitwidgets.reading.images import ImageError, decode_image
from digitwidgets.reading.preprocessing import NOTHING_DRAWN, Drawing, preprocess_digit
from digitwidgets.reading.recognition import Recognizer

ANY_NUMBERS = st.sampled_from(
    [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64, np.uint64]
    + [np.float16, np.float32, np.float64, bool]
)


@pytest.fixture(scope="module")
def recognizer():
    from digitwidgets.learning.pretrained import load_pretrained

    return Recognizer(load_pretrained()[0])


def assert_documented(result) -> None:
    """A 28x28 digit with ink up to 1, or no image and the 'nothing drawn' message."""
    if result.empty:
        assert result.message == NOTHING_DRAWN
    else:
        assert result.image.shape == (28, 28) and result.image.dtype == np.float32
        assert np.isfinite(result.image).all()
        assert result.image.min() >= 0 and result.image.max() == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(ANY_NUMBERS, hnp.array_shapes(min_dims=0, max_dims=4, max_side=12)))
def test_arrays_of_any_shape_and_dtype_give_a_digit_or_a_value_error(array):
    try:
        result = preprocess_digit(array)
    except ValueError as error:
        assert str(error)
        image_like = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 2, 3, 4))
        assert not image_like, f"an image-shaped array was refused: {error}"
    else:
        assert_documented(result)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["O", "U", "S", "c16", "M8"]))
def test_arrays_of_non_numbers_are_a_value_error(dtype):
    with pytest.raises(ValueError):
        preprocess_digit(np.zeros((28, 28), dtype=dtype))


# Each Pillow mode in the formats that can hold it.
FORMATS_FOR_MODE = {
    "1": ["PNG", "BMP", "GIF"],
    "L": ["PNG", "JPEG", "GIF", "BMP"],
    "LA": ["PNG"],
    "P": ["PNG", "GIF", "BMP"],
    "RGB": ["PNG", "JPEG", "BMP"],
    "RGBA": ["PNG"],
    "CMYK": ["JPEG"],
    "I;16": ["PNG"],
}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(sorted(FORMATS_FOR_MODE)),
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    data=st.data(),
)
def test_real_images_of_every_mode_and_size_decode_to_grey(mode, width, height, data):
    fmt = data.draw(st.sampled_from(FORMATS_FOR_MODE[mode]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    picture = Image.fromarray(noise, "RGBA").convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    grey = decode_image(buffer.getvalue())
    assert grey.shape == (height, width) and grey.dtype == np.uint8
    assert_documented(preprocess_digit(grey))


points = st.tuples(st.floats(-1e12, 1e12, allow_nan=False), st.floats(-1e12, 1e12, allow_nan=False))
near_points = st.tuples(st.floats(-50, 330), st.floats(-50, 330))
strokes = st.lists(st.lists(st.one_of(near_points, points), min_size=1, max_size=40), max_size=8)


@settings(max_examples=150, deadline=None)
@given(strokes=strokes, pen_width=st.floats(0.5, 60))
def test_any_strokes_rasterize_and_preprocess(strokes, pen_width):
    drawing = Drawing(tuple(map(tuple, strokes)), 280, 280, pen_width)
    image = drawing.rasterize()
    assert image.shape == (280, 280) and image.dtype == np.uint8
    assert set(np.unique(image)) <= {0, 255}
    assert_documented(preprocess_digit(image))
    if not strokes:
        assert image.max() == 0


@settings(max_examples=60, deadline=None)
@given(strokes=strokes)
def test_any_strokes_are_recognized_or_said_to_be_empty(recognizer, strokes):
    recognition = recognizer.recognize(Drawing(tuple(map(tuple, strokes)), 280, 280, 18.0))
    if recognition.ok:
        assert 0 <= recognition.digit <= 9
        assert recognition.probabilities.shape == (10,)
        assert np.isfinite(recognition.probabilities).all()
        assert recognition.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    else:
        assert recognition.message == NOTHING_DRAWN


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM"]),
    body=st.binary(max_size=3000),
)
def test_random_bytes_behind_a_real_signature_decode_or_raise_image_error(prefix, body):
    try:
        decoded = decode_image(prefix + body)
    except ImageError as error:
        assert str(error) and "Traceback" not in str(error)
    else:
        assert decoded.dtype == np.uint8 and decoded.ndim == 2
