"""Saliency maps: the input's shape, in [0, 1], and on the ink that made the digit."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.pretrained import load_pretrained
from digitwidgets.reading.saliency import overlay, saliency


@pytest.fixture(scope="module")
def model():
    return load_pretrained()[0]


def _as_input(image):
    return image.astype(np.float32) / 255.0


def test_map_has_the_input_shape_and_unit_range(model, digit_images):
    heat = saliency(model, _as_input(digit_images[3]))
    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)


@pytest.mark.parametrize("digit", range(10))
def test_map_is_highest_on_the_ink(model, digit_images, digit):
    image = _as_input(digit_images[digit])
    heat = saliency(model, image)
    ink = image > 0.5
    background = image == 0
    assert heat[ink].mean() > 5 * max(heat[background].mean(), 1e-6)
    # The most telling pixel is part of the digit.
    assert image.flat[np.argmax(heat)] > 0.2


def test_empty_image_gives_an_empty_map(model):
    assert saliency(model, np.zeros((28, 28), np.float32)).max() == 0.0


def test_wrong_shape_is_refused(model):
    with pytest.raises(ValueError, match="28x28"):
        saliency(model, np.zeros((32, 32)))


def test_overlay_is_red_where_the_map_is_high(model, digit_images):
    image = _as_input(digit_images[7])
    heat = saliency(model, image)
    picture = overlay(image, heat)
    assert picture.shape == (28, 28, 3) and picture.dtype == np.uint8
    hottest = np.unravel_index(np.argmax(heat), heat.shape)
    red, green, _ = picture[hottest].astype(int)
    assert red == 255 and green < 50
    # Ink that does not count stays grey; background stays black.
    assert (picture[image == 0] == 0).all()
