"""The pad's strokes drawn again at MNIST's scale: size, place and pen no longer matter."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.reading.preprocessing import (
    NOTHING_DRAWN,
    Drawing,
    preprocess_digit,
    preprocess_drawing,
)
from tools.drawn_digits import TEMPLATES

SEVEN = ((0.0, 0.0), (1.0, 0.0), (0.4, 1.4))


def placed(stroke, scale, left, top, pen):
    points = tuple((left + x * scale, top + y * scale) for x, y in stroke)
    return Drawing((points,), 280, 280, pen)


def ink_width(image):
    """Mean ink per row that has ink: the width of a vertical stroke, in pixels."""
    rows = image[image.max(axis=1) > 0.5]
    return float(rows.sum(axis=1).mean())


def test_small_off_centre_thick_and_big_centred_thin_digits_give_the_same_image():
    small = preprocess_drawing(placed(SEVEN, 30, 5, 200, 24)).image
    big = preprocess_drawing(placed(SEVEN, 170, 20, 20, 3)).image
    assert small.shape == big.shape == (28, 28) and small.dtype == np.float32
    assert np.abs(small - big).max() < 0.1
    # The raster path sees the pad's pen: a 24 px pen on a small digit is a blob of ink.
    raster_small = preprocess_digit(placed(SEVEN, 30, 5, 200, 24).rasterize()).image
    assert np.abs(raster_small - big).max() > 0.3


def test_the_model_pen_width_is_proportional_and_the_longest_side_is_20():
    line = ((0.0, 0.0), (0.0, 1.0))
    widths = {}
    for pen in (2.0, 4.0):
        image = preprocess_drawing(placed(line, 150, 100, 60, 18), pen_width=pen).image
        rows = np.flatnonzero(image.max(axis=1) > 0.1)
        assert rows[-1] - rows[0] + 1 in (20, 21)
        widths[pen] = ink_width(image)
    assert widths[2.0] == pytest.approx(2.0, abs=0.4)
    assert widths[4.0] / widths[2.0] == pytest.approx(2.0, rel=0.2)


def test_every_template_digit_is_centred_by_mass_in_a_20_pixel_box():
    for digit, styles in TEMPLATES.items():
        for make in styles.values():
            strokes = tuple(
                tuple((40 + 150 * x, 40 + 150 * y) for x, y in stroke) for stroke in make()
            )
            result = preprocess_drawing(Drawing(strokes, 280, 280, 18))
            image = result.image
            rows = np.flatnonzero(image.max(axis=1) > 0.05)
            cols = np.flatnonzero(image.max(axis=0) > 0.05)
            assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21, digit
            mass_row = (image.sum(axis=1) @ np.arange(28)) / image.sum()
            assert abs(mass_row - 14) <= 1, digit
            assert image.max() == pytest.approx(1.0)
            # The steps view still shows the person's own ink, cropped from the pad.
            assert result.cropped.shape[0] > 100 and result.scaled.shape[0] == 20


def test_no_points_is_nothing_drawn_and_bad_points_are_ignored():
    assert preprocess_drawing(Drawing((), 280, 280, 18)).message == NOTHING_DRAWN
    assert preprocess_drawing(Drawing(((),), 280, 280, 18)).empty
    nan = float("nan")
    with_nan = Drawing((((nan, 3.0), (50.0, 50.0), (50.0, 200.0)),), 280, 280, 18)
    clean = Drawing((((50.0, 50.0), (50.0, 200.0)),), 280, 280, 18)
    np.testing.assert_array_equal(
        preprocess_drawing(with_nan).image, preprocess_drawing(clean).image
    )


def test_a_single_dot_gives_a_small_centred_blob():
    image = preprocess_drawing(Drawing((((100.0, 100.0),),), 280, 280, 18)).image
    assert image.shape == (28, 28) and image.max() == pytest.approx(1.0)
    assert 0 < (image > 0.5).sum() < 30
