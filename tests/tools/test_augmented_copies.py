"""Changed copies of real MNIST digits for the shipped model's training set."""

from __future__ import annotations

import numpy as np
import pytest

from tools.augmented_copies import (
    add_writing_styles,
    reframe,
    reproportion,
    reweight,
    training_copies,
)


@pytest.fixture(scope="module")
def digits(sample_arrays):
    """Twenty real training digits of each class, float in [0, 1], and their labels."""
    x, y = sample_arrays["x_train"], sample_arrays["y_train"]
    chosen = np.concatenate([np.flatnonzero(y == digit)[:20] for digit in range(10)])
    return x[chosen].astype(np.float32) / 255.0, y[chosen]


def test_copies_follow_the_digits_with_their_labels_and_repeat_for_a_seed(digits):
    images, labels = digits
    x, y = training_copies(images, labels, 2, seed=5)
    assert x.shape == (3 * len(images), 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[: len(images)], images)
    np.testing.assert_array_equal(y, np.tile(labels, 3))
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, training_copies(images, labels, 2, seed=5)[0])
    assert not np.array_equal(x, training_copies(images, labels, 2, seed=6)[0])
    # Every copy is changed, and is still a digit with ink.
    assert all(
        not np.array_equal(a, b)
        for a, b in zip(x[len(images) :], np.tile(images, (2, 1, 1)), strict=True)
    )
    assert (x.reshape(len(x), -1).max(axis=1) > 0.9).all()


def test_copies_are_framed_as_mnist_digits(digits):
    images, labels = digits
    x, _ = training_copies(images, labels, 1, seed=0)
    for copy in x[len(images) :]:
        rows = np.flatnonzero((copy > 0.1).any(axis=1))
        cols = np.flatnonzero((copy > 0.1).any(axis=0))
        assert 18 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 22
        centre = (
            np.array([(copy.sum(axis=1) @ np.arange(28)), (copy.sum(axis=0) @ np.arange(28))])
            / copy.sum()
        )
        assert np.abs(centre - 14).max() <= 1.5


def test_some_ones_get_a_flag_up_left_of_the_stem_and_sevens_a_bar(digits):
    images, labels = digits
    styled = add_writing_styles(images, labels, np.random.default_rng(0))
    changed = np.array([not np.array_equal(a, b) for a, b in zip(styled, images, strict=True)])
    # Only 1s and 7s change, about the shares asked for, never by losing ink.
    assert set(labels[changed]) == {1, 7}
    assert 4 <= changed[labels == 1].sum() <= 16 and 2 <= changed[labels == 7].sum() <= 14
    assert (styled >= images).all()
    for index in np.flatnonzero(changed & (labels == 1)):
        before, after = images[index], styled[index]
        top = np.flatnonzero((before > 0.5).any(axis=1))[0]
        head = np.flatnonzero(before[top] > 0.5).mean()
        added = np.argwhere(after - before > 0.3)
        # The flag leaves the top of the stem towards the lower left.
        flag = added[(added[:, 0] < top + 10) & (added[:, 1] < head - 1)]
        assert len(flag) >= 2


def test_reproportion_keeps_the_first_and_last_rows_and_moves_the_middle(digits):
    images, _ = digits
    warped = reproportion(images, np.random.default_rng(1))
    np.testing.assert_allclose(warped[:, 0], images[:, 0], atol=1e-6)
    np.testing.assert_allclose(warped[:, -1], images[:, -1], atol=1e-6)
    # The row of the centre of mass moves up for some digits and down for others.
    rows = np.arange(28)
    before = images.sum(axis=2) @ rows / images.sum(axis=(1, 2))
    after = warped.sum(axis=2) @ rows / warped.sum(axis=(1, 2))
    assert (after - before > 0.5).sum() >= 10 and (before - after > 0.5).sum() >= 10


def test_reweight_thickens_some_digits_thins_others_and_leaves_about_half(digits):
    images, _ = digits
    ink = images.sum(axis=(1, 2))
    changed = reweight(images, np.random.default_rng(2)).sum(axis=(1, 2))
    thicker, thinner = changed > ink * 1.05, changed < ink * 0.95
    same = np.isclose(changed, ink)
    assert thicker.sum() >= 30 and thinner.sum() >= 10 and 60 <= same.sum() <= 140


def test_reframe_of_a_framed_digit_changes_little(digits):
    images, _ = digits
    assert np.abs(reframe(images[:20]) - images[:20]).mean() < 0.05


def test_reproportion_only_grows_the_loop_of_a_six_and_of_a_nine(digits):
    images, labels = digits
    warped = reproportion(images, np.random.default_rng(3), labels)
    rows = np.arange(28)
    before = images.sum(axis=2) @ rows / images.sum(axis=(1, 2))
    after = warped.sum(axis=2) @ rows / warped.sum(axis=(1, 2))
    # A 6's loop (bottom) grows upwards: its mass rises; a 9's loop (top) grows downwards.
    assert (after[labels == 6] <= before[labels == 6] + 0.05).all()
    assert (after[labels == 9] >= before[labels == 9] - 0.05).all()
    assert (before[labels == 6] - after[labels == 6]).max() > 1.0
