"""The stroke shapes and hand changes the digit generators share."""

from __future__ import annotations

import numpy as np

from tools.strokes import arc, curve, hand_transform, line, quadratic, resampled, wobble


def test_shapes_start_and_end_where_they_are_asked():
    circle = np.array(arc(0.5, 0.5, 0.2, 0.4, 90, 270))
    np.testing.assert_allclose(circle[0], (0.5, 0.9), atol=1e-12)  # 90 degrees: straight down
    np.testing.assert_allclose(circle[-1], (0.5, 0.1), atol=1e-12)
    through = curve((0.0, 0.0), (0.5, 0.2), (1.0, 1.0), per_segment=5)
    assert len(through) == 2 * 5 + 1
    assert through[0] == (0.0, 0.0) and through[5] == (0.5, 0.2) and through[-1] == (1.0, 1.0)
    assert line((0, 0), (1, 2)) == [(0.0, 0.0), (1.0, 2.0)]
    bent = quadratic((0, 0), (1, 1), (2, 0), points=5)
    np.testing.assert_allclose(bent[[0, 2, 4]], [(0, 0), (1, 0.5), (2, 0)])


def test_resampled_points_lie_evenly_along_the_stroke():
    corner = np.array([(0.0, 0.0), (3.0, 0.0), (3.0, 4.0)])
    points = resampled(corner, spacing=0.5)
    assert len(points) == 15
    np.testing.assert_allclose(points[[0, -1]], corner[[0, -1]])
    np.testing.assert_allclose(np.linalg.norm(np.diff(points, axis=0), axis=1), 0.5, atol=0.15)
    assert len(resampled(np.array([(0.0, 0.0), (0.1, 0.0)]), spacing=5.0)) == 2


def test_wobble_is_smooth_small_and_the_same_for_a_seed():
    offsets = wobble(200, np.random.default_rng(3), 0.01)
    np.testing.assert_array_equal(offsets, wobble(200, np.random.default_rng(3), 0.01))
    assert offsets.shape == (200, 2) and np.abs(offsets).max() < 0.1
    # Neighbours differ far less than the offsets themselves: a slow wave, not noise.
    assert np.abs(np.diff(offsets, axis=0)).max() < np.abs(offsets).max() / 5
    assert wobble(1, np.random.default_rng(3), 0.01).shape == (1, 2)


def test_hand_transform_stretches_slants_then_turns():
    np.testing.assert_allclose(hand_transform(1.0, 0.0, 0.0), np.eye(2))
    # A slant leans the top to the right; the bottom (y down) stays.
    slanted = np.array([(0.0, -1.0), (0.0, 0.0)]) @ hand_transform(1.0, 45.0, 0.0).T
    np.testing.assert_allclose(slanted, [(1.0, -1.0), (0.0, 0.0)], atol=1e-12)
    wide = np.array([(1.0, 0.0)]) @ hand_transform(2.0, 0.0, 90.0).T
    np.testing.assert_allclose(wide, [(0.0, 2.0)], atol=1e-12)
