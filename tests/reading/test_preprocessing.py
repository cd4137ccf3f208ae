"""Preprocessing real MNIST digits and drawings the way MNIST itself was made."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from digitwidgets.reading.preprocessing import (
    NOTHING_DRAWN,
    Drawing,
    plain_resize,
    preprocess_digit,
    rasterize_strokes,
)
from tests.support import fat_marker_picture


def centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return (rows * image).sum() / total, (cols * image).sum() / total


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def upscale(image, factor):
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))


def test_real_mnist_digits_come_out_close_to_the_originals(sample_arrays):
    originals = sample_arrays["x_test"][:100]
    scores = [correlation(preprocess_digit(x).image, x / 255.0) for x in originals]
    assert min(scores) > 0.9
    assert np.median(scores) > 0.97


def test_result_is_28x28_float_in_unit_range_with_mass_centred(digit_images):
    for digit, image in digit_images.items():
        result = preprocess_digit(image)
        assert result.image.shape == (28, 28)
        assert result.image.dtype == np.float32
        assert result.image.min() >= 0.0
        assert result.image.max() == pytest.approx(1.0)
        row, col = centre_of_mass(result.image)
        assert abs(row - 14) <= 1 and abs(col - 14) <= 1, digit
        assert max(result.scaled.shape) == 20
        assert not result.inverted and not result.empty and result.message == ""


def test_shifted_digit_is_centred_again(digit_images):
    original = preprocess_digit(digit_images[3]).image
    canvas = np.zeros((60, 60), dtype=np.uint8)
    canvas[30:58, 2:30] = digit_images[3]
    assert correlation(preprocess_digit(canvas).image, original) > 0.97


def test_digit_three_times_bigger_in_a_large_image_matches(digit_images):
    big = upscale(digit_images[7], 3)
    canvas = np.zeros((200, 200), dtype=np.uint8)
    canvas[10:94, 100:184] = big
    result = preprocess_digit(canvas)
    assert result.cropped.shape[0] > 50
    assert correlation(result.image, preprocess_digit(digit_images[7]).image) > 0.95


def test_dark_ink_on_white_is_inverted(digit_images):
    result = preprocess_digit(255 - digit_images[2])
    assert result.inverted
    assert correlation(result.image, preprocess_digit(digit_images[2]).image) > 0.99


def test_rgb_image_with_coloured_ink_on_paper(digit_images):
    ink = digit_images[5] / 255.0
    paper = np.array([250, 245, 230], dtype=float)
    pen = np.array([20, 30, 160], dtype=float)
    rgb = (paper * (1 - ink[..., None]) + pen * ink[..., None]).astype(np.uint8)
    result = preprocess_digit(rgb)
    assert result.inverted
    assert correlation(result.image, preprocess_digit(digit_images[5]).image) > 0.98


def test_rgba_with_ink_only_in_alpha(digit_images):
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = digit_images[6]
    result = preprocess_digit(rgba)
    assert not result.empty
    assert correlation(result.image, preprocess_digit(digit_images[6]).image) > 0.99


def test_rgba_white_ink_on_transparent(digit_images):
    rgba = np.full((28, 28, 4), 255, dtype=np.uint8)
    rgba[..., 3] = digit_images[8]
    result = preprocess_digit(rgba)
    assert correlation(result.image, preprocess_digit(digit_images[8]).image) > 0.99


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.astype(np.uint16) * 257,
        lambda x: x.astype(np.float32) / 255,
        lambda x: x.astype(np.float64) / 255,
        lambda x: x > 127,
        lambda x: x[..., None],
    ],
    ids=["uint16", "float32", "float64", "bool", "one-channel"],
)
def test_other_dtypes_give_the_same_digit(digit_images, convert):
    expected = preprocess_digit(digit_images[4]).image
    assert correlation(preprocess_digit(convert(digit_images[4])).image, expected) > 0.95


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((28, 28), dtype=np.uint8),
        np.full((100, 80), 255, dtype=np.uint8),
        np.full((10, 10, 3), 0.5),
        np.zeros((0, 0)),
        np.zeros((0, 28, 3), dtype=np.uint8),
        np.zeros((28, 28, 4), dtype=np.uint8),
        np.ones((5, 5), dtype=bool),
    ],
    ids=["black", "white", "grey-rgb", "0x0", "0-rows-rgb", "transparent", "all-true"],
)
def test_blank_images_say_nothing_drawn(image):
    result = preprocess_digit(image)
    assert result.empty
    assert result.image is None
    assert result.message == NOTHING_DRAWN


def test_faint_jpeg_like_noise_on_white_is_blank():
    rng = np.random.default_rng(0)
    noisy = np.clip(250 + rng.integers(-4, 5, size=(64, 64)), 0, 255).astype(np.uint8)
    assert preprocess_digit(noisy).empty


def test_noise_speck_does_not_widen_the_box(digit_images):
    canvas = np.zeros((100, 100), dtype=np.uint8)
    canvas[36:64, 36:64] = digit_images[1]
    canvas[2, 2] = 5
    assert preprocess_digit(canvas).cropped.shape[0] < 28


def test_shapes_that_are_not_images_are_refused():
    with pytest.raises(ValueError, match="shape"):
        preprocess_digit(np.zeros(28))
    with pytest.raises(ValueError, match="shape"):
        preprocess_digit(np.zeros((28, 28, 5)))


def test_plain_resize_squeezes_the_whole_image(digit_images):
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[:140, :140] = upscale(digit_images[9], 5)
    resized = plain_resize(canvas)
    assert resized.shape == (28, 28) and resized.dtype == np.float32
    assert resized.max() == pytest.approx(1.0)
    assert resized[14:, 14:].max() == 0.0
    assert plain_resize(np.zeros((10, 10))).max() == 0.0


def test_a_single_point_stroke_is_a_round_dot():
    dot = rasterize_strokes([[(50.0, 40.0)]], (100, 120), pen_width=10)
    assert dot.shape == (100, 120) and dot.dtype == np.uint8
    rows, cols = np.nonzero(dot)
    assert 8 <= np.ptp(rows) + 1 <= 12 and 8 <= np.ptp(cols) + 1 <= 12
    assert abs(rows.mean() - 40) <= 1 and abs(cols.mean() - 50) <= 1


def test_a_line_has_the_pen_width_and_round_caps():
    line = rasterize_strokes([[(20, 50), (80, 50)]], (100, 100), pen_width=8)
    rows, cols = np.nonzero(line)
    assert 7 <= np.ptp(rows) + 1 <= 10
    assert cols.min() <= 17 and cols.max() >= 83
    assert line[50, 50] == 255 and line[20, 50] == 0


def test_strokes_leaving_the_canvas_are_clipped():
    image = rasterize_strokes([[(-50, 10), (50, 10), (500, 10)], [(1e12, 5)]], (20, 100), 4)
    assert image.shape == (20, 100)
    assert image[10].min() == 255
    assert image[:5].max() == 0


def test_five_thousand_point_stroke_rasterizes_and_preprocesses():
    angles = np.linspace(0, 2 * np.pi, 5000)
    stroke = tuple(zip(140 + 80 * np.cos(angles), 140 + 110 * np.sin(angles), strict=True))
    drawing = Drawing(strokes=(stroke,), width=280, height=280, pen_width=18)
    image = drawing.rasterize()
    assert image.shape == (280, 280)
    assert image[140, 140] == 0 and image[140, 220] == 255
    result = preprocess_digit(image)
    assert result.scaled.shape[0] == 20 and result.scaled.shape[1] < 20


def test_drawn_zero_looks_like_an_mnist_zero(sample_arrays):
    x, y = sample_arrays["x_test"], sample_arrays["y_test"]
    angles = np.linspace(0, 2 * np.pi, 200)
    stroke = tuple(zip(140 + 60 * np.cos(angles), 140 + 90 * np.sin(angles), strict=True))
    drawn = preprocess_digit(Drawing((stroke,), 280, 280, 22).rasterize()).image
    mean_zero = np.mean(x[y == 0] / 255.0, axis=0)
    mean_one = np.mean(x[y == 1] / 255.0, axis=0)
    assert correlation(drawn, mean_zero) > 0.6 > correlation(drawn, mean_one)


def test_empty_drawing_rasterizes_blank():
    assert Drawing((), 50, 40, 10).rasterize().shape == (40, 50)
    assert preprocess_digit(Drawing((), 50, 40, 10).rasterize()).message == NOTHING_DRAWN


def test_pillow_antialiased_upload_matches(digit_images):
    big = np.asarray(Image.fromarray(digit_images[0]).resize((280, 280), Image.BICUBIC))
    assert correlation(preprocess_digit(big).image, preprocess_digit(digit_images[0]).image) > 0.95


images = st.one_of(
    hnp.arrays(
        st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, bool]),
        st.one_of(
            hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=40),
            st.tuples(st.integers(0, 30), st.integers(0, 30), st.sampled_from([1, 2, 3, 4])),
        ),
    ),
)


@settings(max_examples=150, deadline=None)
@given(images)
def test_any_image_array_gives_a_digit_or_the_message(image):
    result = preprocess_digit(image)
    if result.empty:
        assert result.message == NOTHING_DRAWN
    else:
        assert result.image.shape == (28, 28)
        assert np.isfinite(result.image).all()
        assert result.image.min() >= 0 and result.image.max() == pytest.approx(1.0)
    assert plain_resize(image).shape == (28, 28)


def _stroke_width_in_box(image: np.ndarray) -> float:
    """Twice the ink's area over its outline's length, in pixels of the 28x28 image."""
    ink = image >= 0.5
    outline = (ink[1:] != ink[:-1]).sum() + (ink[:, 1:] != ink[:, :-1]).sum()
    return 2 * ink.sum() / outline


def test_a_picture_drawn_with_a_thick_pen_can_be_thinned_to_mnist_width(sample_arrays):
    from digitwidgets.reading.preprocessing import THINNED_STROKE_WIDTH

    # A real MNIST 7 as a 280 px picture drawn with a fat marker.
    fat = fat_marker_picture(sample_arrays["x_test"][sample_arrays["y_test"] == 7][0])
    as_is = preprocess_digit(fat).image
    thinned = preprocess_digit(fat, stroke_width=THINNED_STROKE_WIDTH).image
    assert _stroke_width_in_box(as_is) > THINNED_STROKE_WIDTH + 1
    assert abs(_stroke_width_in_box(thinned) - THINNED_STROKE_WIDTH) < 0.8
    # Still the same digit in the same place: most of the thinned ink lies on the fat ink.
    assert (as_is[thinned > 0.5] > 0.5).mean() > 0.9


def test_thinning_leaves_mnist_strokes_as_they_are(sample_arrays):
    from digitwidgets.reading.preprocessing import THINNED_STROKE_WIDTH

    # Only strokes wider than nearly all of MNIST's are thinned: real MNIST digits come out
    # as they would without thinning, all but the fattest few.
    digits = sample_arrays["x_test"][:200]
    unchanged = [
        np.array_equal(
            preprocess_digit(image, stroke_width=THINNED_STROKE_WIDTH).image,
            preprocess_digit(image).image,
        )
        for image in digits
    ]
    assert np.mean(unchanged) >= 0.9
