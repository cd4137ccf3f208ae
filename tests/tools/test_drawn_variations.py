"""The broader drawn-digit set: other styles, every way of drawing, read through the pad's path."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.pretrained import load_pretrained
from digitwidgets.reading.preprocessing import Drawing
from digitwidgets.reading.recognition import Recognizer
from tools import drawn_digits
from tools.drawn_variations import (
    TEMPLATES,
    VARIATIONS,
    make_varied_drawn_digits,
    variation_of,
)
from tools.strokes import PAD_SIZE

# Measured with the shipped model through Recognizer given a Drawing (docs/handwriting.md):
# 99.8% on the whole broader set, 100% on the old drawn set. The floors sit a few points
# below (issue 15's goals are 97% and 98% on the whole sets), on subsets small enough to run
# in seconds.
BROAD_FLOOR = 0.95
OLD_SET_FLOOR = 0.96


@pytest.fixture(scope="module")
def digits():
    return make_varied_drawn_digits(per_class=4)


def test_every_variation_and_digit_has_the_same_count(digits):
    variations = np.array([variation_of(style) for style in digits.styles])
    for name in VARIATIONS:
        assert (variations == name).sum() == 40
        assert np.bincount(digits.labels[variations == name], minlength=10).tolist() == [4] * 10


def test_same_seed_same_digits_and_other_styles_than_the_old_set(digits):
    assert make_varied_drawn_digits(per_class=4).drawings == digits.drawings
    assert make_varied_drawn_digits(per_class=4, seed=1).drawings != digits.drawings
    for digit in range(10):
        assert not set(TEMPLATES[digit]) & set(drawn_digits.TEMPLATES[digit]) - {"round"}
    with pytest.raises(ValueError, match="Unknown variations"):
        make_varied_drawn_digits(variations=("tiny",))


def _boxes(digits, name):
    chosen = [d for d, s in zip(digits.drawings, digits.styles, strict=True) if s.startswith(name)]
    boxes = []
    for drawing in chosen:
        points = np.concatenate([np.asarray(stroke) for stroke in drawing.strokes])
        boxes.append((points.min(axis=0), points.max(axis=0), drawing.pen_width))
    return boxes


def test_variations_draw_as_they_say(digits):
    size = PAD_SIZE
    for low, high, _ in _boxes(digits, "small:"):
        assert 0.18 * size <= high[1] - low[1] <= 0.35 * size
    for low, high, _ in _boxes(digits, "large:"):
        assert high[1] - low[1] >= 0.8 * size
    for low, high, _ in _boxes(digits, "corner:"):
        near_edge = np.minimum(low, size - high)
        assert near_edge.max() <= 25  # close to a vertical and a horizontal edge
    assert max(pen for *_, pen in _boxes(digits, "thin:")) <= 4
    assert min(pen for *_, pen in _boxes(digits, "thick:")) >= 28
    # Shaky strokes have many more points, each a few pixels from the next.
    shaky = [d for d, s in zip(digits.drawings, digits.styles, strict=True) if "shaky" in s]
    normal = [d for d, s in zip(digits.drawings, digits.styles, strict=True) if "normal" in s]
    assert np.mean([sum(map(len, d.strokes)) for d in shaky]) > 2 * np.mean(
        [sum(map(len, d.strokes)) for d in normal]
    )
    for drawing in digits.drawings:
        assert isinstance(drawing, Drawing)
        points = np.concatenate([np.asarray(stroke) for stroke in drawing.strokes])
        assert points.min() >= 0 and points.max() <= size - 1


def test_the_shipped_model_reads_drawn_digits_through_the_pad_path_above_the_floor(digits):
    model, _ = load_pretrained()
    recognizer = Recognizer(model)
    broad = np.mean(
        [
            recognizer.recognize(drawing).digit == label
            for drawing, label in zip(digits.drawings, digits.labels, strict=True)
        ]
    )
    old = drawn_digits.make_drawn_digits(per_class=20)
    old_accuracy = np.mean(
        [
            recognizer.recognize(drawing).digit == label
            for drawing, label in zip(old.drawings, old.labels, strict=True)
        ]
    )
    assert broad >= BROAD_FLOOR
    assert old_accuracy >= OLD_SET_FLOOR
