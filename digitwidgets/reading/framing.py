"""A digit framed as MNIST's were, and the ``Preprocessed`` record every reading path returns.

The lowest step of reading a digit: the drawing path (``preprocessing``) and the photo path
(``photo_reading``) both end here, so both import it and it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .outcome import Outcome
from .photo_steps import PhotoSteps

NOTHING_DRAWN = "Nothing drawn yet: draw a digit or upload an image."
SIZE = 28
DIGIT_SIZE = 20

# Pixels under this fraction of the strongest ink do not widen the bounding box.
_BOX_THRESHOLD = 0.1
# With ``stroke_width``, strokes wider in the 20 px box than 95% of MNIST's (3.4 px by the
# estimate of ``_normalise_stroke_width``) are thinned, to about MNIST's median for example.
_WIDEST_MNIST_STROKE = 3.5
THINNED_STROKE_WIDTH = 2.5


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """A digit prepared for the model, with the intermediate steps a person may want to see."""

    image: np.ndarray | None
    cropped: np.ndarray | None = None
    scaled: np.ndarray | None = None
    inverted: bool = False
    message: str = ""
    outcome: Outcome = Outcome.DIGIT
    """What the picture held: a digit, or why there is none (nothing, several, too dark...)."""
    photo: PhotoSteps | None = None
    """For a photo of paper, its steps (``PhotoSteps``): the photo, the
    flattened page, the ink found, the digit kept; None for a drawing or a plain picture."""

    def __post_init__(self):
        if self.image is None and self.outcome is Outcome.DIGIT:
            object.__setattr__(self, "outcome", Outcome.NOTHING)

    @property
    def empty(self) -> bool:
        """True when there was no ink to recognize."""
        return self.image is None


def frame_ink(
    ink: np.ndarray, stroke_width: float | None = None, inverted: bool = False
) -> Preprocessed:
    """Frame an ink map (float (H, W), ink high, background 0) as MNIST's digits were framed.

    Crop to the ink, scale the longer side to 20 pixels, centre by mass in 28x28; see
    ``preprocess_digit`` for ``stroke_width``. ``inverted`` is only recorded.
    """
    if ink.size == 0 or ink.max() <= 0:
        return Preprocessed(image=None, message=NOTHING_DRAWN)
    rows = np.flatnonzero((ink >= _BOX_THRESHOLD * ink.max()).any(axis=1))
    cols = np.flatnonzero((ink >= _BOX_THRESHOLD * ink.max()).any(axis=0))
    cropped = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    cropped = cropped / cropped.max()
    if stroke_width is not None:
        cropped = _normalise_stroke_width(cropped, stroke_width)
    scaled = resize(cropped, scaled_shape(cropped.shape))
    if scaled.max() <= 0:
        return Preprocessed(image=None, message=NOTHING_DRAWN)
    digit = paste_centred_by_mass(scaled)
    return Preprocessed(
        image=(digit / digit.max()).astype(np.float32),
        cropped=cropped.astype(np.float32),
        scaled=scaled.astype(np.float32),
        inverted=inverted,
    )


def _normalise_stroke_width(cropped: np.ndarray, stroke_width: float) -> np.ndarray:
    """Cropped ink with strokes wider than MNIST's eroded (3x3 steps) to ``stroke_width`` px.

    The width now is estimated as twice the ink's area over its outline's length (exact for
    a long, even stroke); each 3x3 step thins it by about 2 pixels. The result is cropped to
    its ink again. A step that would erase the ink is not taken; thin strokes stay.
    """
    mask = cropped >= 0.5
    area = int(mask.sum())
    outline = int((mask[1:] != mask[:-1]).sum() + (mask[:, 1:] != mask[:, :-1]).sum())
    if area == 0 or outline == 0:
        return cropped
    width_now = 2 * area / outline
    if width_now * DIGIT_SIZE / max(cropped.shape) <= _WIDEST_MNIST_STROKE:
        return cropped
    # k steps thin the strokes by 2k and shrink the extent as much, so solve
    # (width - 2k) / (extent - 2k) = stroke_width / DIGIT_SIZE for k.
    ratio = min(stroke_width / DIGIT_SIZE, 0.5)
    steps = int(round((width_now - ratio * max(cropped.shape)) / (2 - 2 * ratio)))
    if steps <= 0:
        return cropped
    picture = Image.fromarray(cropped.astype(np.float32), mode="F")
    step = ImageFilter.MinFilter(3)
    for _ in range(steps):
        changed = picture.filter(step)
        if np.asarray(changed).max() < 0.5:
            break
        picture = changed
    values = np.asarray(picture, dtype=np.float64)
    keep = values >= _BOX_THRESHOLD * values.max()
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    values = values[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return values / values.max()


def scaled_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """The (height, width) of ink of ``shape`` with its longer side scaled to ``DIGIT_SIZE``."""
    height, width = shape
    factor = DIGIT_SIZE / max(height, width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def resize(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Float values resized to (height, width) ``shape`` with Lanczos, clipped to [0, 1]."""
    picture = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    resized = picture.resize((shape[1], shape[0]), Image.Resampling.LANCZOS)
    # Lanczos rings a little below 0 and above 1 next to sharp edges.
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def paste_centred_by_mass(scaled: np.ndarray) -> np.ndarray:
    """The scaled ink pasted into a 28x28 canvas with its centre of mass at the centre."""
    height, width = scaled.shape
    total = scaled.sum()
    centre_row = (scaled.sum(axis=1) @ np.arange(height)) / total
    centre_col = (scaled.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(SIZE / 2 - centre_row), 0, SIZE - height))
    left = int(np.clip(round(SIZE / 2 - centre_col), 0, SIZE - width))
    digit = np.zeros((SIZE, SIZE), dtype=np.float64)
    digit[top : top + height, left : left + width] = scaled
    return digit
