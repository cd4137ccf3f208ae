"""The drawn-digit test set: reproducible, all classes, drawn through the pad's code path."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.reading.preprocessing import Drawing
from tools.drawn_digits import TEMPLATES, make_drawn_digits
from tools.strokes import PAD_SIZE


@pytest.fixture(scope="module")
def digits():
    return make_drawn_digits()


def test_default_set_has_at_least_500_digits_of_every_class(digits):
    assert len(digits) >= 500
    counts = np.bincount(digits.labels, minlength=10)
    assert counts.min() == counts.max() == len(digits) // 10


def test_same_seed_gives_identical_digits(digits):
    again = make_drawn_digits()
    assert again.drawings == digits.drawings
    np.testing.assert_array_equal(again.labels, digits.labels)
    np.testing.assert_array_equal(again.pad_images()[:50], digits.pad_images()[:50])


def test_another_seed_gives_other_digits(digits):
    other = make_drawn_digits(per_class=5, seed=digits.seed + 1)
    assert other.drawings != digits.drawings[:50]


def test_every_writing_style_is_used(digits):
    expected = {f"{digit}:{style}" for digit, styles in TEMPLATES.items() for style in styles}
    assert set(digits.styles) == expected


def test_drawings_vary_in_size_position_and_pen_like_a_pad(digits):
    assert all(isinstance(drawing, Drawing) for drawing in digits.drawings)
    pads = digits.pad_images()
    assert pads.shape == (len(digits), PAD_SIZE, PAD_SIZE) and pads.dtype == np.uint8
    heights, centres = [], []
    for pad in pads:
        rows = np.flatnonzero(pad.max(axis=1) > 0)
        cols = np.flatnonzero(pad.max(axis=0) > 0)
        heights.append((rows[-1] - rows[0]) / PAD_SIZE)
        centres.append(((rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2))
        # Nothing falls off the pad: there is background on every side.
        assert rows[0] > 0 and cols[0] > 0 and rows[-1] < PAD_SIZE - 1 and cols[-1] < PAD_SIZE - 1
    assert min(heights) < 0.4 and max(heights) > 0.85
    offsets = np.abs(np.array(centres) - PAD_SIZE / 2)
    assert np.median(offsets.max(axis=1)) > 10  # most digits are off-centre
    pens = [drawing.pen_width for drawing in digits.drawings]
    assert min(pens) <= 10 and max(pens) >= 25


def test_model_inputs_are_mnist_like_and_plain_resize_differs(digits):
    sample = make_drawn_digits(per_class=3)
    mnist_style = sample.model_inputs("mnist")
    plain = sample.model_inputs("plain")
    assert mnist_style.shape == plain.shape == (30, 28, 28)
    assert mnist_style.dtype == np.float32 and mnist_style.min() >= 0 and mnist_style.max() <= 1
    # MNIST-style puts the ink in the central 20x20 box; a plain resize keeps pad positions.
    central = mnist_style[:, 4:24, 4:24].sum(axis=(1, 2)) / mnist_style.sum(axis=(1, 2))
    assert central.min() > 0.9
    assert not np.allclose(mnist_style, plain)
    with pytest.raises(ValueError, match="preprocessing"):
        sample.model_inputs("sharpen")
