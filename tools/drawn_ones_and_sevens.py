"""1s and 7s drawn as strokes and read through the pad's path, for building a training set.

A 1 with a long flag and a 7 are told apart by the top stroke: a 7's bar runs about level
(here from 15 degrees above to 12 below), a 1's flag falls away from the top of the stem (20
to 65 degrees). MNIST has few flagged 1s, and flags drawn onto its rasters
(``augmented_copies``) left a model reading such 1s as 7s or not depending on its seed. These
digits are drawn the way the pad records them: strokes on the 280 px pad, then drawn again at
MNIST's scale by ``preprocess_drawing``, the code path a drawing on the pad takes.

- **1s**: a stem, most with a flag (straight or bowed, ending in the digit's top 35%),
  drawn in the same stroke or apart, some with a base.
- **7s**: a bar (some with a small hook down at its start) and a stem falling to the left,
  straight or bent, some crossed.
- **Each digit varies**, from the seed: slant up to +-18 degrees, turn up to +-10, width
  0.8-1.2, a slow wobble, the pad's pen 8-24 px (which ``preprocess_drawing`` leaves out).

Shapes are drawn from ranges of these parameters, not from the drawn test sets' templates
(``drawn_digits``, ``drawn_variations``), which stay for measuring only. NumPy and Pillow.
"""

from __future__ import annotations

import numpy as np

from digitwidgets.reading.preprocessing import Drawing, preprocess_drawing

from .strokes import PAD_SIZE, hand_transform, quadratic, resampled, wobble

# Of the 1s, this share has a flag, and this share (of all) a base.
FLAGGED = 0.85
BASED = 0.3
# A flag falls this many degrees below level from the top of the stem, and ends within the
# digit's top 35%; a 7's bar lies within these degrees of level (positive: its start lower).
FLAG_DEGREES = (20.0, 65.0)
FLAG_LENGTH = (0.12, 0.75)
FLAG_DROP = 0.35
BAR_DEGREES = (-15.0, 12.0)
# Of the 7s, this share is crossed, and this share starts with a hook.
CROSSED = 0.3
HOOKED = 0.2


def drawn_ones_and_sevens(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 1s and ``count`` 7s as the model sees pad drawings, and their labels.

    Returns:
        float32 (2 * count, 28, 28) images (ink high, maximum 1) and uint8 labels; the same
        seed gives the same digits.
    """
    images, labels = [], []
    for digit, shape in ((1, _one), (7, _seven)):
        rng = np.random.default_rng([seed, digit])
        for _ in range(count):
            images.append(preprocess_drawing(_place(shape(rng), rng)).image)
            labels.append(digit)
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.uint8)
    return np.stack(images).astype(np.float32), np.array(labels, dtype=np.uint8)


def _one(rng: np.random.Generator) -> list[np.ndarray]:
    """A 1 one unit tall from (0, 0) down, y growing downwards."""
    top = np.zeros(2)
    bottom = np.array([rng.uniform(-0.05, 0.05), 1.0])
    stem = np.array([top, bottom])
    strokes = [stem]
    if rng.random() < FLAGGED:
        angle = np.radians(rng.uniform(*FLAG_DEGREES))
        length = min(rng.uniform(*FLAG_LENGTH), FLAG_DROP / np.sin(angle))
        end = top + length * np.array([-np.cos(angle), np.sin(angle)])
        if rng.random() < 0.5:
            flag = np.array([end, top])
        else:  # bowed upwards, as a quick hand draws it
            bow = length * rng.uniform(0.08, 0.3)
            middle = (end + top) / 2 + bow * np.array([np.sin(angle), -np.cos(angle)])
            flag = quadratic(end, middle, top, points=10)
        # Mostly flag and stem in one stroke; sometimes the flag apart.
        strokes = [np.vstack([flag, bottom])] if rng.random() < 0.8 else [flag, stem]
    if rng.random() < BASED:
        half, shift = rng.uniform(0.12, 0.35), rng.uniform(-0.05, 0.05)
        strokes.append(np.array([[bottom[0] - half + shift, 1.0], [bottom[0] + half + shift, 1.0]]))
    return strokes


def _seven(rng: np.random.Generator) -> list[np.ndarray]:
    """A 7 one unit tall, its corner at (0, 0), y growing downwards."""
    corner = np.zeros(2)
    angle = np.radians(rng.uniform(*BAR_DEGREES))
    start = corner + rng.uniform(0.45, 0.95) * np.array([-np.cos(angle), np.sin(angle)])
    foot = np.array([-rng.uniform(0.08, 0.6), 1.0])
    bar = np.array([start, corner])
    if rng.random() < HOOKED:
        hook = start + [rng.uniform(-0.03, 0.03), rng.uniform(0.05, 0.2)]
        bar = np.vstack([hook, bar])
    if rng.random() < 0.4:
        bend = (corner + foot) / 2 + [rng.uniform(0.03, 0.12), 0.0]
        stem = quadratic(corner, bend, foot, points=10)
    else:
        stem = np.array([corner, foot])
    strokes = [np.vstack([bar, stem[1:]])]
    if rng.random() < CROSSED:
        middle = corner + rng.uniform(0.4, 0.6) * (foot - corner)
        half = rng.uniform(0.12, 0.3)
        strokes.append(np.array([middle - [half, 0.0], middle + [half, 0.0]]))
    return strokes


def _place(strokes: list[np.ndarray], rng: np.random.Generator) -> Drawing:
    """The strokes slanted, turned, stretched and wobbled, on the middle of the pad."""
    # Drawn in this order, so that a seed gives the digits it always gave.
    linear = hand_transform(
        slant_degrees=rng.uniform(-18, 18),
        turn_degrees=rng.uniform(-10, 10),
        width=rng.uniform(0.8, 1.2),
    )
    placed = []
    for stroke in strokes:
        points = resampled(stroke, spacing=0.05)
        points = points @ linear.T + wobble(len(points), rng, 0.012)
        placed.append(points * 0.7 * PAD_SIZE + PAD_SIZE / 2)
    return Drawing(
        strokes=tuple(tuple(map(tuple, points.tolist())) for points in placed),
        width=PAD_SIZE,
        height=PAD_SIZE,
        pen_width=float(rng.uniform(8, 24)),
    )
