"""Strokes as a hand draws them: the shapes and changes the digit generators share.

A stroke is a list of (x, y) points, y growing downwards as on a canvas; a template is the
list of strokes of one digit. The shapes (``arc``, ``curve``, ``line``, ``quadratic``) draw
strokes in a template's unit box; ``resampled``, ``wobble`` and ``hand_transform`` change
them the ways people's writing differs. ``drawn_digits``, ``drawn_variations``,
``drawn_ones_and_sevens`` and ``augmented_copies`` draw with these. NumPy only.
"""

from __future__ import annotations

import numpy as np

PAD_SIZE = 280
"""The drawing pad's side in pixels: the generators place their strokes on such a pad."""

Stroke = list[tuple[float, float]]
"""One stroke: the points the pen passes through, in order."""

Template = list[Stroke]
"""The strokes of one digit, in a box about 0.7 wide and 1 high."""


def arc(cx, cy, rx, ry, start, end, points_per_turn=72) -> Stroke:
    """Points on an ellipse from angle ``start`` to ``end`` (degrees; 90 is straight down)."""
    count = max(2, int(abs(end - start) / 360 * points_per_turn) + 1)
    angles = np.radians(np.linspace(start, end, count))
    return list(
        zip((cx + rx * np.cos(angles)).tolist(), (cy + ry * np.sin(angles)).tolist(), strict=True)
    )


def curve(*keys: tuple[float, float], per_segment: int = 8) -> Stroke:
    """A smooth Catmull-Rom curve through the key points, ``per_segment`` points between two."""
    keys_array = np.asarray(keys, dtype=np.float64)
    padded = np.vstack([keys_array[0], keys_array, keys_array[-1]])
    points = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        for t in np.linspace(0, 1, per_segment, endpoint=False):
            points.append(
                0.5
                * (
                    2 * p1
                    + (-p0 + p2) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                    + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
                )
            )
    points.append(keys_array[-1])
    return [tuple(point) for point in np.asarray(points).tolist()]


def line(*keys: tuple[float, float]) -> Stroke:
    """Straight segments through the key points: the key points themselves, as floats."""
    return [tuple(map(float, key)) for key in keys]


def quadratic(start, middle, end, points: int = 8) -> np.ndarray:
    """``points`` points (points, 2) along the quadratic Bezier curve from start to end."""
    t = np.linspace(0, 1, points)[:, None]
    start, middle, end = (np.asarray(p, dtype=np.float64) for p in (start, middle, end))
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * middle + t**2 * end


def resampled(stroke: np.ndarray, spacing: float) -> np.ndarray:
    """The stroke's points again, evenly along it about ``spacing`` apart (two at least)."""
    steps = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    at = np.linspace(0.0, along[-1], max(2, int(along[-1] / spacing) + 1))
    return np.column_stack([np.interp(at, along, stroke[:, axis]) for axis in (0, 1)])


def wobble(length: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Smooth random offsets (length, 2) of about ``amplitude`` template units.

    A hand is not a ruler, but it is not noise either: three slow waves along the stroke.
    """
    if length < 2:
        return rng.normal(0, amplitude, size=(length, 2))
    steps = np.linspace(0, 1, length)[:, None]
    offsets = np.zeros((length, 2))
    for frequency in (1, 2, 3):
        phase = rng.uniform(0, 2 * np.pi, size=2)
        weight = rng.normal(0, amplitude / frequency, size=2)
        offsets += weight * np.sin(2 * np.pi * frequency * steps + phase)
    return offsets


def hand_transform(width: float, slant_degrees: float, turn_degrees: float) -> np.ndarray:
    """The 2x2 matrix of a hand's writing: stretched ``width`` times, slanted, then turned.

    The upright shear comes first (a slanted hand), then a turn of the whole digit; points
    (N, 2) change as ``points @ matrix.T``.
    """
    shear = np.tan(np.radians(slant_degrees))
    angle = np.radians(turn_degrees)
    shape = np.array([[width, -shear], [0.0, 1.0]])
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return turn @ shape
