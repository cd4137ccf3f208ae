"""1s and 7s drawn as strokes through the pad's path, for the shipped model's training set."""

from __future__ import annotations

import numpy as np
import pytest

from tools import drawn_ones_and_sevens as drawn
from tools.drawn_ones_and_sevens import drawn_ones_and_sevens


def test_digits_come_with_their_labels_and_repeat_for_a_seed():
    images, labels = drawn_ones_and_sevens(30, seed=4)
    assert images.shape == (60, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(labels, [1] * 30 + [7] * 30)
    assert images.min() >= 0.0 and np.allclose(images.reshape(60, -1).max(axis=1), 1.0)
    np.testing.assert_array_equal(images, drawn_ones_and_sevens(30, seed=4)[0])
    assert not np.array_equal(images, drawn_ones_and_sevens(30, seed=5)[0])
    # No two alike: every digit has its own shape.
    assert len({image.tobytes() for image in images}) == 60


def test_none_asked_gives_empty_arrays_of_the_right_shape():
    images, labels = drawn_ones_and_sevens(0)
    assert images.shape == (0, 28, 28) and labels.shape == (0,)


def test_digits_are_framed_as_the_pad_path_frames_a_drawing():
    images, _ = drawn_ones_and_sevens(20, seed=0)
    for image in images:
        rows = np.flatnonzero((image > 0.1).any(axis=1))
        cols = np.flatnonzero((image > 0.1).any(axis=0))
        # The longest side fills MNIST's 20 px box, centred by mass in 28x28.
        assert 19 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 22
        centre = np.array([image.sum(axis=1) @ np.arange(28), image.sum(axis=0) @ np.arange(28)])
        assert np.abs(centre / image.sum() - 13.5).max() <= 1.5


def _fall_degrees(start: np.ndarray, corner: np.ndarray) -> float:
    """How far below level ``start`` lies as seen from ``corner`` (y grows downwards)."""
    run, drop = corner[0] - start[0], start[1] - corner[1]
    return float(np.degrees(np.arctan2(drop, run)))


def test_a_flag_falls_from_the_stem_and_a_bar_lies_about_level():
    # What tells a long-flagged 1 from a 7, before the hand's slant and turn: both shapes
    # have their corner (the stem's top) at the origin.
    rng = np.random.default_rng(3)
    flags = []  # a flagged 1's first stroke starts at the flag's free end
    for strokes in (drawn._one(rng) for _ in range(300)):
        if strokes[0][0][1] > 0:
            flags.append((_fall_degrees(strokes[0][0], np.zeros(2)), strokes[0][0][1]))
    bars = []  # a 7's stroke runs (hook,) bar's start, corner, stem
    for stroke in (drawn._seven(rng)[0] for _ in range(300)):
        corner = int(np.flatnonzero((stroke == 0).all(axis=1))[0])
        bars.append(_fall_degrees(stroke[corner - 1], stroke[corner]))
    assert 0.75 < len(flags) / 300 < 0.95
    falls, drops = np.array(flags).T
    assert drawn.FLAG_DEGREES[0] <= falls.min() and falls.max() <= drawn.FLAG_DEGREES[1]
    assert drops.max() <= drawn.FLAG_DROP + 1e-9
    assert drawn.BAR_DEGREES[0] <= min(bars) and max(bars) <= drawn.BAR_DEGREES[1]
    assert falls.min() > max(bars)


@pytest.mark.parametrize("count", [1, 7])
def test_each_digit_depends_on_the_seed_and_its_place_only(count):
    # The first digits are the same however many are asked for: a longer run extends a shorter.
    few, _ = drawn_ones_and_sevens(count, seed=2)
    many, _ = drawn_ones_and_sevens(count + 3, seed=2)
    np.testing.assert_array_equal(few[:count], many[:count])
    np.testing.assert_array_equal(few[count:], many[count + 3 : 2 * count + 3])
