"""Copies of MNIST digits changed the ways people's writing differs, for building a training set.

The on-the-fly layers of ``augmentation`` shift, turn, zoom and re-thicken each batch; what
they cannot do is change a digit's shape. The copies made here, once, before training
(``scripts/train_pretrained.py --copies N``), do:

- **elastic distortion and slant** (``augmentation.distort``);
- **proportions**: the top of the digit made taller and the bottom shorter or the other way
  round (a 6 or a 9 with a tall loop, an 8 with a small head or belly);
- **stroke width**: strokes thickened or thinned by grey morphology, by a random amount;
- **writing styles MNIST's sample rarely has**: a 1 given a flag (straight or curved, short
  or long) and sometimes a base, a 7 given a bar across its stem.

Each copy is framed again as MNIST's digits are (cropped to its ink, longest side 20 px,
centred by mass in 28x28), so it looks like a digit the preprocessing hands the model.
NumPy and Pillow only; the same seed gives the same copies.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from digitwidgets.learning.augmentation import distort
from digitwidgets.reading.preprocessing import preprocess_digit

from .strokes import quadratic

# Of the 1s in a copy, this share gets a flag, and of those this share a base as well.
FLAGGED_ONES = 0.6
BASED_ONES = 0.35
# Of the 7s in a copy, this share gets a bar across the stem.
CROSSED_SEVENS = 0.35
# A proportion warp's exponent is exp(u), u uniform in +-this at most (``reproportion``).
PROPORTION = 0.5
# Of a copy's digits, this share is thickened or thinned by one grey 3x3 morphology step.
REWEIGHTED = 0.5
# Additions are drawn this many times finer, then averaged down (anti-aliased like MNIST).
_FINE = 4


def training_copies(
    images,
    labels,
    copies: int,
    seed: int = 0,
    *,
    styles: bool = True,
    proportions: bool = True,
    width: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The digits followed by ``copies`` changed copies of them, and the labels to match.

    Args:
        images: (N, 28, 28) digits, float in [0, 1], ink high (MNIST's way).
        labels: (N,) their classes.
        copies: how many changed copies of every digit to add.
        seed: copy ``c`` depends only on ``seed`` and ``c``.
        styles, proportions, width: which changes besides elastic distortion and slant.

    Returns:
        float32 (N * (copies + 1), 28, 28) images and uint8 labels.
    """
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    made = [images]
    for copy in range(copies):
        rng = np.random.default_rng([seed, copy])
        batch = images
        if styles:
            batch = add_writing_styles(batch, labels, rng)
        if proportions:
            batch = reproportion(batch, rng, labels)
        batch = distort(batch, seed=int(rng.integers(2**31)))
        if width:
            batch = reweight(batch, rng)
        made.append(reframe(batch))
    return np.concatenate(made), np.concatenate([labels] * (copies + 1)).astype(np.uint8)


def reproportion(
    images: np.ndarray, rng: np.random.Generator, labels: np.ndarray | None = None
) -> np.ndarray:
    """Each digit's rows remapped by ``v ** g``, ``v`` from 0 at the top to 1 at the bottom.

    ``g > 1`` makes the top taller and the bottom shorter, ``g < 1`` the reverse; the first
    and last rows stay where they are. Bilinear between rows. With ``labels``, the digits
    whose parts people size most differently get the most: a 6's loop only grows (up to
    ``exp(-PROPORTION)``), a 9's too, an 8's head or belly either way; the others change
    a third as much, so that a 5 or a 0 does not take on a 6's tall loop.
    """
    count, height, width = images.shape
    low = np.full(count, -PROPORTION / 3)
    high = np.full(count, PROPORTION / 3)
    if labels is not None:
        labels = np.asarray(labels)
        low[labels == 6], high[labels == 6] = -PROPORTION, 0.0
        low[labels == 9], high[labels == 9] = 0.0, PROPORTION
        low[labels == 8], high[labels == 8] = -PROPORTION, PROPORTION
    power = np.exp(rng.uniform(low, high))
    rows = np.linspace(0.0, 1.0, height)
    source = (rows[None, :] ** power[:, None]) * (height - 1)
    top = np.clip(np.floor(source).astype(int), 0, height - 1)
    bottom = np.minimum(top + 1, height - 1)
    weight = (source - top)[:, :, None]
    index = np.arange(count)[:, None]
    warped = images[index, top] * (1 - weight) + images[index, bottom] * weight
    return warped.astype(np.float32)


def reweight(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the digits (``REWEIGHTED``) thickened or thinned by a random share of a 3x3 step.

    The grey dilation (3x3 maximum) thickens a stroke by about a pixel each side, the grey
    erosion (3x3 minimum) thins it; a digit moves a random share ``t`` of the way there.
    Thinning is kept gentle (at most half a step) so thin strokes do not vanish.
    """
    count = len(images)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    dilated, eroded = windows.max(axis=(3, 4)), windows.min(axis=(3, 4))
    amount = rng.uniform(-0.5, 1.0, size=(count, 1, 1)) * (rng.random((count, 1, 1)) < REWEIGHTED)
    target = np.where(amount > 0, dilated, eroded)
    return (images + np.abs(amount) * (target - images)).astype(np.float32)


def reframe(images: np.ndarray) -> np.ndarray:
    """Each digit cropped to its ink, scaled to 20 px and centred by mass, as MNIST's are."""
    framed = np.zeros_like(images, dtype=np.float32)
    for index, image in enumerate(images):
        result = preprocess_digit(image)
        if result.image is not None:
            framed[index] = result.image
    return framed


def add_writing_styles(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Copies where some 1s have a flag (and a base) and some 7s a bar, drawn on the digit.

    The added strokes are as wide as the digit's own and anti-aliased, so they look written
    with the same pen.
    """
    styled = images.copy()
    for index in np.flatnonzero(labels == 1):
        if rng.random() < FLAGGED_ONES:
            styled[index] = _flag_one(images[index], rng, base=rng.random() < BASED_ONES)
    for index in np.flatnonzero(labels == 7):
        if rng.random() < CROSSED_SEVENS:
            styled[index] = _cross_seven(images[index], rng)
    return styled


def _flag_one(image: np.ndarray, rng: np.random.Generator, base: bool) -> np.ndarray:
    """A 1 with a flag from the top of its stem down to the left, maybe a base too."""
    ink = image > 0.5
    rows = np.flatnonzero(ink.any(axis=1))
    if len(rows) < 4:
        return image
    top, bottom = rows[0], rows[-1]
    length = bottom - top
    head = np.flatnonzero(ink[top]).mean()
    # A flag a fifth to 0.6 as long as the digit, 25 to 60 degrees below horizontal (a
    # flatter, longer one is a 7's top).
    reach = length * rng.uniform(0.2, 0.6)
    angle = np.radians(rng.uniform(25, 60))
    end = (head - reach * np.cos(angle), top + reach * np.sin(angle))
    if rng.random() < 0.5:
        flag = [(head, top), end]
    else:  # curved: bowed upwards, as a quick hand draws it
        bow = reach * rng.uniform(0.1, 0.3)
        middle = ((head + end[0]) / 2 + bow * np.sin(angle), (top + end[1]) / 2 - bow)
        flag = quadratic((head, top), middle, end)
    strokes = [flag]
    if base:
        foot = np.flatnonzero(ink[bottom]).mean()
        half = length * rng.uniform(0.15, 0.3)
        strokes.append([(foot - half, bottom), (foot + half, bottom)])
    return _draw_over(image, strokes, _stroke_width(ink))


def _cross_seven(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 with a short bar across its stem, a little above or below half its height."""
    ink = image > 0.5
    rows = np.flatnonzero(ink.any(axis=1))
    if len(rows) < 4:
        return image
    length = rows[-1] - rows[0]
    row = int(rows[0] + length * rng.uniform(0.4, 0.6))
    columns = np.flatnonzero(ink[row])
    if len(columns) == 0:
        return image
    centre = columns.mean()
    half = length * rng.uniform(0.15, 0.3)
    tilt = rng.uniform(-0.1, 0.1) * half
    bar = [(centre - half, row + tilt), (centre + half, row - tilt)]
    return _draw_over(image, [bar], _stroke_width(ink))


def _stroke_width(ink: np.ndarray) -> float:
    """About how wide the strokes are: twice the ink's area over its outline's length."""
    area = ink.sum()
    outline = (ink[1:] != ink[:-1]).sum() + (ink[:, 1:] != ink[:, :-1]).sum()
    return float(np.clip(2 * area / max(outline, 1), 1.2, 3.5))


def _draw_over(image: np.ndarray, strokes, width: float) -> np.ndarray:
    """The image with round-capped strokes (pixel-centre coordinates) drawn on it."""
    height, breadth = image.shape
    canvas = Image.new("L", (breadth * _FINE, height * _FINE), 0)
    draw = ImageDraw.Draw(canvas)
    pen = width * _FINE
    for stroke in strokes:
        points = [((x + 0.5) * _FINE, (y + 0.5) * _FINE) for x, y in stroke]
        draw.line([c for point in points for c in point], fill=255, width=max(1, round(pen)))
        for x, y in points:
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    added = np.asarray(canvas.reduce(_FINE), dtype=np.float32) / 255.0
    return np.maximum(image, added * float(image.max()))
